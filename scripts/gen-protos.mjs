#!/usr/bin/env node
// Generates protobufjs static code + TypeScript declarations for the Envoy services we serve
// (ext_authz Check, ext_proc Process; the rate-limit service we call) from the protos that ship in @grpc/grpc-js-xds.
// Static code was chosen over @grpc/proto-loader by measured decode speed: see README
// ("Generated Envoy types") and bench/proto-decode.ts.
// Skips the work when the inputs have not changed (hash stamp), so `npm run build` stays fast.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const xdsDir = dirname(require.resolve("@grpc/grpc-js-xds/package.json"));
const deps = join(xdsDir, "deps");
const includePaths = ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(deps, d));
const entryProtos = [
  "envoy/service/auth/v3/external_auth.proto",
  "envoy/service/ext_proc/v3/external_processor.proto",
  // Called, not served: extproc-server charges LLM tokens to the rate-limit service (docs/rate-limits.md).
  "envoy/service/ratelimit/v3/rls.proto",
];

const outDir = join(root, "lib/src/gen");
const outJs = join(outDir, "envoy.js");
const outDts = join(outDir, "envoy.d.ts");
const stampPath = join(outDir, ".stamp");
const distDir = join(root, "dist/lib/src/gen");

const bin = (name) => join(root, "node_modules/.bin", name);

function inputHash() {
  const hash = createHash("sha256");
  hash.update(readFileSync(join(xdsDir, "package.json")));
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  hash.update(readFileSync(join(root, "node_modules/protobufjs/package.json")));
  return hash.digest("hex");
}

const stamp = inputHash();
const upToDate = existsSync(stampPath) && readFileSync(stampPath, "utf8") === stamp && existsSync(outJs);
if (!upToDate) {
  mkdirSync(outDir, { recursive: true });
  const pbjs = (extra, out) =>
    execFileSync(
      bin("pbjs"),
      [
        "-t",
        "static-module",
        "-w",
        "es6",
        "--no-beautify",
        "--no-delimited",
        "--no-verify",
        "--no-convert",
        "--no-service",
        ...extra,
        ...includePaths.flatMap((p) => ["-p", p]),
        "-o",
        out,
        ...entryProtos,
      ],
      { stdio: "inherit" },
    );
  // pbts reads the JSDoc of a commented build; the runtime module is the same code without comments.
  const commented = join(outDir, "envoy.commented.js");
  pbjs([], commented);
  execFileSync(bin("pbts"), ["--no-comments", "-o", outDts, commented], { stdio: "inherit" });
  rmSync(commented);
  pbjs(["--no-comments"], outJs);
  // Node's ESM loader needs the file name, and protobufjs is CommonJS: import its module.exports.
  const js = readFileSync(outJs, "utf8").replace(
    'import * as $protobuf from "protobufjs/minimal";',
    'import $protobuf from "protobufjs/minimal.js";',
  );
  writeFileSync(outJs, js);
  writeFileSync(stampPath, stamp);
  console.log(`gen-protos: wrote ${outJs} and ${outDts}`);
}
// tsc does not copy plain .js sources: put the generated module beside the compiled code.
if (process.argv.includes("--dist") || existsSync(join(root, "dist"))) {
  mkdirSync(distDir, { recursive: true });
  copyFileSync(outJs, join(distDir, "envoy.js"));
  copyFileSync(outDts, join(distDir, "envoy.d.ts"));
}
