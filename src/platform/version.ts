/** The service's version, as `/`, `/health` and the MCP server report it. */
export const VERSION = '0.1.0';
