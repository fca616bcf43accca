import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KEYCLOAK_HOME } from "../../../lib/src/runtime/components/keycloak.js";
import { postgresBinary, REPO_ROOT, toolPath } from "../../../lib/src/runtime/layout.js";

/**
 * What `warden status` shows as each component's version: the version the program itself reports
 * (the binaries the supervisor runs), and for our own programs the package version and Node's.
 */
const TOOL_VERSION_COMMANDS: Record<string, () => [string, string[]]> = {
  postgres: () => [postgresBinary("postgres"), ["--version"]],
  openbao: () => [toolPath("bao"), ["version"]],
  "spire-server": () => [toolPath("spire-server"), ["--version"]],
  "spire-agent": () => [toolPath("spire-agent"), ["--version"]],
  envoy: () => [toolPath("envoy"), ["--version"]],
  redis: () => [toolPath("redis-server"), ["--version"]],
};

/** Keycloak's kc.sh starts a JVM to print its version; the distribution's version.txt says it at once. */
const VERSION_FILES: Record<string, () => string> = {
  keycloak: () => join(KEYCLOAK_HOME, "version.txt"),
};

function versionInFile(path: string): string | undefined {
  try {
    return versionIn(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

/** envoyproxy/ratelimit has no version flag (scripts/setup pins its commit, RATELIMIT_VERSION). */
const NO_VERSION_FLAG: ReadonlySet<string> = new Set(["ratelimit"]);

/** The first dotted version number in a program's output: `1.40.0`, `2.7.2`, `15.18`. */
export function versionIn(output: string): string | undefined {
  return /\bv?(\d+\.\d+(?:\.\d+)?)/.exec(output)?.[1];
}

function reported(command: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 5_000 }, (_error, stdout, stderr) =>
      resolve(versionIn(`${stdout}\n${stderr}`)),
    );
  });
}

function ownVersion(): string {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version?: string };
  return `${pkg.version ?? "?"} (node ${process.versions.node})`;
}

/** Component name → version, for every component of the stack ("-" when it cannot be told). */
export async function componentVersions(names: readonly string[]): Promise<Record<string, string>> {
  const own = ownVersion();
  const entries = await Promise.all(
    names.map(async (name): Promise<[string, string]> => {
      if (NO_VERSION_FLAG.has(name)) return [name, "-"];
      const file = VERSION_FILES[name];
      if (file) return [name, versionInFile(file()) ?? "-"];
      const command = TOOL_VERSION_COMMANDS[name];
      if (!command) return [name, own];
      return [name, (await reported(...command())) ?? "-"];
    }),
  );
  return Object.fromEntries(entries);
}
