#!/usr/bin/env node
// Kubernetes JSON schemas for kubeconform, made offline from the OpenAPI document Kubernetes itself
// ships (api/openapi-spec/swagger.json in the k8s.io/kubernetes Go module, which scripts/setup
// fetches through the Go module proxy). The same conversion as kubeconform's openapi2jsonschema
// ("standalone-strict"): one file per kind named <kind>[-<group>]-<version>.json, every $ref
// inlined, additionalProperties: false on every object with declared properties (so a misspelt
// field fails), int-or-string and quantities accepting a number or a string as the API server does.
//   node scripts/k8s-schemas.mjs <swagger.json> <out-dir>
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";

const INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/** A definition with its $refs inlined; a ref already being expanded (recursive types) stays open. */
function expand(node, definitions, stack) {
  if (Array.isArray(node)) return node.map((item) => expand(item, definitions, stack));
  if (node === null || typeof node !== "object") return node;
  if (typeof node.$ref === "string") {
    const name = node.$ref.replace("#/definitions/", "");
    if (name === INT_OR_STRING) return { oneOf: [{ type: "string" }, { type: "integer" }] };
    if (name === QUANTITY) return { oneOf: [{ type: "string" }, { type: "number" }] };
    if (stack.includes(name)) return {};
    const target = definitions[name];
    if (!target) throw new Error(`unknown $ref ${node.$ref}`);
    return expand(target, definitions, [...stack, name]);
  }
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    // "properties" maps field names to schemas: a field may be called "format" or "type".
    out[key] =
      key === "properties"
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v, definitions, stack)]))
        : expand(value, definitions, stack);
  }
  if (out.format === "int-or-string") return { oneOf: [{ type: "string" }, { type: "integer" }] };
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

function fileName({ group, kind, version }) {
  const suffix = group ? `-${group.split(".")[0]}-${version}` : `-${version}`;
  return `${kind}${suffix}.json`.toLowerCase();
}

const [swaggerPath, outDir] = process.argv.slice(2);
if (!swaggerPath || !outDir) {
  console.error("usage: node scripts/k8s-schemas.mjs <swagger.json> <out-dir>");
  process.exit(2);
}
const { definitions } = JSON.parse(readFileSync(swaggerPath, "utf8"));
const tmp = `${outDir}.tmp`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
let written = 0;
for (const [name, definition] of Object.entries(definitions)) {
  for (const gvk of definition["x-kubernetes-group-version-kind"] ?? []) {
    // List kinds and the API machinery's own (Status, WatchEvent...) are not applied by users.
    if (gvk.kind.endsWith("List") || name.startsWith("io.k8s.apimachinery.")) continue;
    const schema = expand(definition, definitions, [name]);
    schema.$schema = "http://json-schema.org/schema#";
    writeFileSync(`${tmp}/${fileName(gvk)}`, JSON.stringify(schema));
    written += 1;
  }
}
rmSync(outDir, { recursive: true, force: true });
renameSync(tmp, outDir);
console.log(`k8s-schemas: ${written} schemas in ${outDir}`);
