/**
 * An MCP server's registry row as the control plane stores it (kind mcp_server, its tool rules and
 * the external services it calls for its users), and the registry change announced as the control
 * plane announces it (control-plane/src/notify.ts), so authz-server follows it through LISTEN/NOTIFY.
 */
export type Sql = <Row extends Record<string, unknown>>(text: string, params?: unknown[]) => Promise<Row[]>;

export interface McpServerRow {
  name: string;
  trustDomain: string;
  rules: unknown;
  externalServices?: readonly string[];
}

/** Inserts the row and announces it; answers its id. */
export async function registerMcpServerRow(sql: Sql, server: McpServerRow): Promise<string> {
  const [row] = await sql<{ id: string }>(
    `INSERT INTO agents (kind, name, spiffe_id, tenant, owner, team, type, environment, created_by, tool_rules, external_services)
     VALUES ('mcp_server', $1, $2, 'acme', 'ops', 'platform', 'mcp', 'production', 'test', $3, $4)
     RETURNING id`,
    [
      server.name,
      `spiffe://${server.trustDomain}/mcp/${server.name}`,
      JSON.stringify(server.rules),
      JSON.stringify(server.externalServices ?? []),
    ],
  );
  await announceRegistryRow(sql, row!.id);
  return row!.id;
}

/** Announces a change to the registry row `id` (an upsert of its current state). */
export async function announceRegistryRow(sql: Sql, id: string): Promise<void> {
  const [row] = await sql<{
    kind: string;
    spiffe_id: string;
    tenant: string;
    status: string;
    version: number;
  }>("SELECT kind, spiffe_id, tenant, status, version FROM agents WHERE id = $1", [id]);
  await sql("SELECT pg_notify('warden_registry', $1)", [
    JSON.stringify({ v: 1, entity: "agent", op: "upsert", id, ...row }),
  ]);
}
