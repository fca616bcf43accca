#!/usr/bin/env node
// Builds the package on its own: compiles src/ and the lib/src/spiffe modules it imports into dist/
// (tsc follows the imports), then places the two data files those modules read at run time.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
execFileSync(
  process.execPath,
  [join(root, "node_modules/typescript/bin/tsc"), "-p", join(here, "tsconfig.json")],
  {
    stdio: "inherit",
  },
);
const copy = (from, to) => {
  mkdirSync(dirname(join(here, "dist", to)), { recursive: true });
  cpSync(join(root, from), join(here, "dist", to));
};
copy("sdk/reasons.json", "sdk/reasons.json");
copy("lib/proto/spiffe/workload/workload.proto", "lib/proto/spiffe/workload/workload.proto");
