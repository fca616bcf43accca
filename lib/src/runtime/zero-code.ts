import { workloadSpiffeId } from "../spiffe/naming.js";

/**
 * Zero-code mode of `warden up` (docs/zero-code.md): `--zero-code-agent <name> [--zero-code-port N]`
 * (or WARDEN_ZERO_CODE_AGENT / WARDEN_ZERO_CODE_PORT) runs a sidecar bound to that one agent: its
 * Envoy holds the agent's SVID (the SPIRE entry `warden agent add <name> --selector
 * unix:uid:<ZERO_CODE_UID>` creates) and serves it plain HTTP on 127.0.0.1:<port>. Off unless named.
 * Pure: settings in, the bound agent or every problem out.
 */
export interface ZeroCodeConfig {
  agent: string;
  spiffeId: string;
  /** The plain-HTTP port on 127.0.0.1. */
  port: number;
}

export type ZeroCodeResult =
  { ok: true; zeroCode: ZeroCodeConfig | null } | { ok: false; problems: string[] };

const AGENT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * `port`: a port number, or `127.0.0.1:<port>` / `[::1]:<port>`; any other address is refused
 * (the port is that agent's identity: it must not be reachable from another host).
 */
export function parseZeroCode(
  agent: string | undefined,
  port: string | undefined,
  defaultPort: number,
  trustDomain: string,
): ZeroCodeResult {
  if (agent === undefined || agent === "") {
    return port === undefined || port === ""
      ? { ok: true, zeroCode: null }
      : {
          ok: false,
          problems: ["--zero-code-port / WARDEN_ZERO_CODE_PORT: only with --zero-code-agent <name>"],
        };
  }
  const problems: string[] = [];
  if (!AGENT_NAME.test(agent))
    problems.push(
      `--zero-code-agent / WARDEN_ZERO_CODE_AGENT: "${agent}" is not an agent name (lower-case letters, digits, '.', '_', '-')`,
    );
  let portNumber = defaultPort;
  if (port !== undefined && port !== "") {
    const match = /^(?:(127\.0\.0\.1|\[::1\]):)?(\d{1,5})$/.exec(port.trim());
    const n = match ? Number(match[2]) : NaN;
    if (!match || n < 1 || n > 65535)
      problems.push(
        `--zero-code-port / WARDEN_ZERO_CODE_PORT: "${port}" is refused: the zero-code listener binds loopback only (127.0.0.1); give a port (1-65535)`,
      );
    else portNumber = n;
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    zeroCode: { agent, spiffeId: workloadSpiffeId(trustDomain, "agent", agent), port: portNumber },
  };
}
