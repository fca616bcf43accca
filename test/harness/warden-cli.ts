/**
 * Shared set-up of the suites that run the product through the `warden` CLI (`warden up`): the
 * environment of a throwaway WARDEN_HOME, and the arguments of `warden agent add`.
 */

/** Every KYA checklist item: an agent onboarded with it can be approved. */
export const FULL_CHECKLIST =
  "no_embedded_credentials,dependencies_scanned,least_privilege_scopes,audit_logging,data_retention_policy";

/**
 * The CLI's environment for a stack under `home` on the ports from `portBase`, with `upstream`
 * (host:port) standing in for every provider. The caller's own API URL and token are cleared so a
 * developer's shell settings never reach the test's stack.
 */
export function wardenEnv(home: string, portBase: number, upstream: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WARDEN_HOME: home,
    WARDEN_PORT_BASE: String(portBase),
    WARDEN_DEV_UPSTREAM: upstream,
    WARDEN_API_URL: "",
    WARDEN_TOKEN: "",
    WARDEN_TOKEN_FILE: "",
  };
}

export interface AgentAddOptions {
  /** The workload selector; the current process's uid when absent. */
  selector?: string;
  /** The hex digit repeated into the image digest (distinct agents, distinct digests). */
  digestDigit?: string;
  /** `--endpoint`, the destination the KYA attestation covers. */
  endpoint?: string;
  capabilities?: readonly string[];
}

/** The arguments of `warden agent add <name> ... --json` with the full checklist. */
export function agentAddArgs(name: string, options: AgentAddOptions = {}): string[] {
  return [
    "agent",
    "add",
    name,
    "--selector",
    options.selector ?? `unix:uid:${process.getuid?.() ?? 0}`,
    "--image-digest",
    `sha256:${(options.digestDigit ?? "d").repeat(64)}`,
    "--checklist",
    FULL_CHECKLIST,
    ...(options.endpoint === undefined ? [] : ["--endpoint", options.endpoint]),
    ...(options.capabilities ?? []).flatMap((capability) => ["--capabilities", capability]),
    "--json",
  ];
}

/** The arguments of `warden kya approve`: level 2 for the given capabilities (an LLM chat agent by default). */
export function kyaApproveArgs(
  attestationId: string,
  capabilities: readonly string[] = ["llm:chat"],
): string[] {
  return [
    "kya",
    "approve",
    attestationId,
    "--level",
    "2",
    ...capabilities.flatMap((capability) => ["--capability", capability]),
  ];
}
