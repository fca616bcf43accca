#!/usr/bin/env node
// Builds an OPA bundle with the policy compiled to WebAssembly (policy.wasm + data.json + .manifest),
// optionally signed (ES256 by default), using the pinned opa in .tools/bin.
//
//   npm run policy:build                                   # policies/ -> dist/policy/bundle.tar.gz
//   npm run policy:build -- --signing-key key.pem          # signed; or WARDEN_POLICY_SIGNING_KEY_FILE
//   node scripts/build-policy.mjs --dir <policy dir> --out <file> [--revision r] [--entrypoint e]
//        [--signing-key pem] [--signing-alg ES256] [--optimize 0]
//
// The build is restricted to the builtins @open-policy-agent/opa-wasm provides (its own
// capabilities.json), so a policy that would need a host builtin the SDK lacks fails here,
// not at request time. Tests (`tests/`, `*_test.rego`) never enter the bundle.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const opa = join(root, ".tools", "bin", "opa");
const ENTRYPOINT = "warden/authz/decision";
const IGNORED = ["tests", "*_test.rego", "*.md"];

function usage(message) {
  console.error(`build-policy: ${message}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    dir: { type: "string", default: join(root, "policies") },
    out: { type: "string", default: join(root, "dist", "policy", "bundle.tar.gz") },
    revision: { type: "string" },
    entrypoint: { type: "string", default: ENTRYPOINT },
    "signing-key": { type: "string", default: process.env.WARDEN_POLICY_SIGNING_KEY_FILE },
    "signing-alg": { type: "string", default: "ES256" },
    optimize: { type: "string", default: "0" },
    quiet: { type: "boolean", default: false },
  },
});

const policyDir = resolve(values.dir);
const out = resolve(values.out);
if (!existsSync(opa)) usage(`${opa} is missing; run npm run setup`);
if (!existsSync(policyDir)) usage(`policy directory ${policyDir} does not exist`);
if (values["signing-key"] && !existsSync(values["signing-key"]))
  usage(`signing key ${values["signing-key"]} not found`);

/** Files that go into the bundle, in a stable order (the same rules as the --ignore flags). */
function bundleSources(dir) {
  const ignored = (name) =>
    name === "tests" || name.endsWith("_test.rego") || name.endsWith(".md") || name.startsWith(".");
  const files = [];
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (ignored(entry.name)) continue;
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".rego") || entry.name === "data.json") files.push(full);
    }
  };
  walk(dir);
  return files;
}

/** Default revision: a digest of the bundle sources, so the same policy always has the same revision. */
function contentRevision(dir) {
  const hash = createHash("sha256");
  for (const file of bundleSources(dir)) {
    hash.update(relative(dir, file)).update("\0").update(readFileSync(file)).update("\0");
  }
  return `sha256-${hash.digest("hex").slice(0, 16)}`;
}

/** OPA's current language features with the builtins of the opa-wasm SDK we evaluate with. */
function wasmCapabilities(outDir) {
  const require = createRequire(import.meta.url);
  const sdkRoot = resolve(dirname(require.resolve("@open-policy-agent/opa-wasm")), "..");
  const sdkCapabilities = JSON.parse(readFileSync(join(sdkRoot, "capabilities.json"), "utf8"));
  const current = JSON.parse(execFileSync(opa, ["capabilities", "--current"], { encoding: "utf8" }));
  const file = join(outDir, "capabilities.json");
  writeFileSync(file, JSON.stringify({ ...current, builtins: sdkCapabilities.builtins }));
  return file;
}

const revision = values.revision ?? contentRevision(policyDir);
mkdirSync(dirname(out), { recursive: true });
const args = [
  "build",
  "--bundle",
  "--target",
  "wasm",
  "--entrypoint",
  values.entrypoint,
  "--revision",
  revision,
  "--capabilities",
  wasmCapabilities(dirname(out)),
  "--optimize",
  values.optimize,
  "--output",
  out,
  ...IGNORED.flatMap((pattern) => ["--ignore", pattern]),
];
if (values["signing-key"]) {
  args.push("--signing-key", resolve(values["signing-key"]), "--signing-alg", values["signing-alg"]);
}
args.push(".");

try {
  execFileSync(opa, args, { cwd: policyDir, stdio: ["ignore", "inherit", "inherit"] });
} catch {
  console.error(`build-policy: opa build failed for ${policyDir}`);
  process.exit(1);
}

const summary = {
  bundle: out,
  revision,
  entrypoint: values.entrypoint,
  signed: Boolean(values["signing-key"]),
  signing_alg: values["signing-key"] ? values["signing-alg"] : null,
  sha256: createHash("sha256").update(readFileSync(out)).digest("hex"),
};
if (!values.quiet) console.log(JSON.stringify(summary));
