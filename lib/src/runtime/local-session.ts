import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadRuntimeConfig, homePaths } from "./layout.js";
import { readSupervisorState } from "./state.js";

/**
 * What the CLI uses when WARDEN_API_URL / WARDEN_TOKEN are not set and a local stack runs from
 * $WARDEN_HOME: the control plane's URL from supervisor.json and the token `warden login` kept.
 */
export function cliTokenFile(home: string): string {
  return join(home, "cli-token");
}

export function localSession(env: NodeJS.ProcessEnv): { apiUrl?: string; token?: string } {
  let home: string;
  try {
    home = loadRuntimeConfig(env).home;
  } catch {
    return {};
  }
  const state = readSupervisorState(homePaths(home).state);
  const tokenFile = cliTokenFile(home);
  return {
    ...(state ? { apiUrl: state.controlPlaneUrl } : {}),
    ...(existsSync(tokenFile) ? { token: readFileSync(tokenFile, "utf8").trim() } : {}),
  };
}

export function saveCliToken(home: string, token: string): string {
  const file = cliTokenFile(home);
  writeFileSync(file, token, { mode: 0o600 });
  return file;
}
