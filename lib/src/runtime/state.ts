import { readFileSync } from "node:fs";
import { z } from "zod";

/** supervisor.json: what the running supervisor sees, for `warden status|logs|down`. */
const componentStateSchema = z.object({
  name: z.string(),
  pid: z.number().int().nullable(),
  state: z.enum(["starting", "running", "restarting", "failed", "stopped"]),
  healthy: z.boolean(),
  restarts: z.number().int(),
  since: z.string(),
  ports: z.record(z.number().int()),
  log: z.string(),
});

export const supervisorStateSchema = z.object({
  pid: z.number().int(),
  startedAt: z.string(),
  ready: z.boolean(),
  home: z.string(),
  trustDomain: z.string(),
  agentUrl: z.string(),
  controlPlaneUrl: z.string(),
  oidcIssuer: z.string(),
  authzStatusUrl: z.string(),
  /** Superuser connection string of the embedded cluster (trust auth on loopback), or the external one. */
  databaseUrl: z.string(),
  /** The SPIRE agent's Workload API (SPIFFE_ENDPOINT_SOCKET for agents). */
  workloadEndpoint: z.string(),
  envoySpiffeId: z.string(),
  /** Where an MCP server's inbound sidecar listens (warden up --inbound-mcp), when there is one. */
  inboundMcpUrl: z.string().optional(),
  components: z.array(componentStateSchema),
});

export type SupervisorState = z.infer<typeof supervisorStateSchema>;
export type ComponentState = z.infer<typeof componentStateSchema>;

/** The state file, or null when there is none (never started) or it cannot be read. */
export function readSupervisorState(path: string): SupervisorState | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return null;
  }
  const parsed = supervisorStateSchema.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : null;
}
