import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RUN_DIR } from "../harness/process.js";

/**
 * Writes a test's own policy directory under .run/: its Rego (`file` → source) and a data.json with
 * the config every bundle carries (trusted trust domain, method access, no capability kinds, no
 * services or tiers), overridden by `config`. Answers the directory, for the stack's `policyDir`.
 */
export function writePolicyDir(
  name: string,
  rego: { file: string; source: string },
  config: Record<string, unknown> = {},
): string {
  const dir = join(RUN_DIR, `${name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, rego.file), rego.source);
  writeFileSync(
    join(dir, "data.json"),
    JSON.stringify({
      warden: {
        config: {
          identity: { trusted_trust_domains: ["warden.local"] },
          method_access: { GET: "read", HEAD: "read", OPTIONS: "read" },
          capabilities: { kinds: {} },
          services: {},
          tiers: {},
          ...config,
        },
      },
    }),
  );
  return dir;
}
