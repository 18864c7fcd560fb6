/**
 * One MCP server per request (stateless: no session, no Durable Object): it lists the tools the
 * caller's key may use and runs tool calls as that key. The per-request server is the SDK's
 * low-level Server with two handlers: registering 44 tools on an McpServer for every request
 * doubled the SDK's cost of a tools/call (measured), and tools/list converted every schema again.
 */
import { Server, type CallToolResult, type Tool as ListedTool } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { VERSION } from '../platform/version';
import { ApiError } from '../platform/errors';
import { validationDetails } from '../access/router';
import { formatError } from './format';
import { authorizeTool, mayUse, TOOLS, type Tool, type ToolContext } from './tools';

/** Each tool with its input schema, built once per isolate. */
const BY_NAME = new Map(TOOLS.map((tool) => [tool.name, { tool, schema: z.object(tool.input) }]));

const INSTRUCTIONS =
  'Delega is a task queue for agents. Resume work with list_tasks (completed:false) and get_task_context, and recall earlier decisions before new work; take work with claim_task, keep the lease with heartbeat_task, finish with complete_task (with evidence) or hand back with release_task and a handoff note.';

const text = (value: string, isError = false): CallToolResult => ({
  content: [{ type: 'text', text: value }],
  ...(isError ? { isError: true } : {}),
});

/** Runs one tool call as the caller; every refusal is a tool error whose text says what to do. */
export async function callTool(t: ToolContext, name: string, args: unknown): Promise<CallToolResult> {
  const entry = BY_NAME.get(name);
  if (!entry) return text(`Error: there is no tool named ${name}; tools/list shows the tools this key may use.`, true);
  try {
    // The same refusal as the REST route's, for a tool the key does not see.
    authorizeTool(t.principal, entry.tool);
    const parsed = entry.schema.safeParse(args ?? {});
    if (!parsed.success) {
      const details = validationDetails(parsed.error);
      throw new ApiError({
        status: 400,
        code: 'VALIDATION_FAILED',
        message: `Invalid arguments for ${name}: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
        details,
      });
    }
    return text(await entry.tool.run(t, parsed.data));
  } catch (e) {
    if (e instanceof ApiError) return text(formatError(e), true);
    console.error(
      JSON.stringify({
        level: 'error',
        message: 'MCP tool failed',
        tool: name,
        error: String(e),
        stack: e instanceof Error ? e.stack : undefined,
      }),
    );
    return text('Error: the server failed to run this tool; retry later.', true);
  }
}

export function toolsFor(t: Pick<ToolContext, 'principal'>): Tool[] {
  return TOOLS.filter((tool) => mayUse(t.principal, tool));
}

/** The JSON Schema of a tool's input as tools/list shows it (the conversion the SDK's McpServer makes), once per isolate. */
const LISTED = new Map<string, ListedTool>();
function listed(tool: Tool): ListedTool {
  let entry = LISTED.get(tool.name);
  if (!entry) {
    const schema = BY_NAME.get(tool.name)!.schema['~standard'].jsonSchema.input({ target: 'draft-2020-12' });
    entry = { name: tool.name, description: tool.description, inputSchema: { type: 'object', ...schema } };
    LISTED.set(tool.name, entry);
  }
  return entry;
}

export function mcpServer(t: ToolContext): Server {
  const server = new Server({ name: 'delega', version: VERSION }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  server.setRequestHandler('tools/list', () => ({ tools: toolsFor(t).map(listed) }));
  // Our own tools/call: a tool this key does not see gets the REST route's refusal, not a bare "not found".
  server.setRequestHandler('tools/call', (request) => callTool(t, request.params.name, request.params.arguments));
  return server;
}
