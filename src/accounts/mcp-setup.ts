/** Where an agent host connects, and the `mcpServers` entry to paste (GET /v1/agent/me, README). */
import type { Env } from '../env';

export interface McpSetup {
  url: string;
  config: { mcpServers: { delega: { type: 'http'; url: string; headers: { Authorization: string } } } };
  how: string;
}

export function mcpSetup(env: Pick<Env, 'PUBLIC_BASE_URL'>): McpSetup {
  const url = `${(env.PUBLIC_BASE_URL ?? 'https://api.delega.dev').replace(/\/+$/, '')}/mcp`;
  return {
    url,
    config: { mcpServers: { delega: { type: 'http', url, headers: { Authorization: 'Bearer ${DELEGA_AGENT_KEY}' } } } },
    how: 'Add this entry to your agent host’s MCP configuration with DELEGA_AGENT_KEY set to this key (or write the key in place of ${DELEGA_AGENT_KEY}); X-Agent-Key works as the header too.',
  };
}
