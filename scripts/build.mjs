#!/usr/bin/env node
// Build: generate Envoy types (skipped when up to date), compile TypeScript, place generated JS in dist.
import { execFileSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });
run(process.execPath, ["scripts/gen-protos.mjs"]);
run(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"]);
run(process.execPath, ["scripts/gen-protos.mjs", "--dist"]);
// The SDK as a package of its own (sdk/typescript/dist, with the lib modules it imports).
run(process.execPath, ["sdk/typescript/build.mjs"]);
