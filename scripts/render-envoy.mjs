#!/usr/bin/env node
// Renders the Envoy sidecar bootstrap from a JSON parameter file (see envoy/README.md).
//
//   node scripts/render-envoy.mjs envoy/params.example.json > envoy.yaml
//   node scripts/render-envoy.mjs - < params.json
//
// Without "destinations", every public provider route is included (TLS to the real hosts);
// "devUpstream": { "address": "127.0.0.1", "port": n } (development only) sends them all to one
// local plain-HTTP stub instead, as `warden up` does with WARDEN_DEV_UPSTREAM.
// Needs `npm run build` first: it uses the same renderer as the tests (lib/src/envoy/bootstrap.ts).
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const renderer = resolve(root, "dist/lib/src/envoy/bootstrap.js");
const [source] = process.argv.slice(2);
if (!source) {
  console.error("usage: render-envoy.mjs <params.json | ->");
  process.exit(2);
}
if (!existsSync(renderer)) {
  console.error("render-envoy: dist/ is missing; run npm run build");
  process.exit(2);
}

const { renderSidecarBootstrap, providerDestinations, devUpstreamDestinations } = await import(
  pathToFileURL(renderer).href
);
const { devUpstream, ...params } = JSON.parse(readFileSync(source === "-" ? 0 : source, "utf8"));
if (
  devUpstream !== undefined &&
  (devUpstream?.address !== "127.0.0.1" || !Number.isInteger(devUpstream?.port))
) {
  console.error(
    'render-envoy: devUpstream must be { "address": "127.0.0.1", "port": <port> } (development only)',
  );
  process.exit(2);
}
try {
  const yaml = renderSidecarBootstrap({
    ...params,
    destinations:
      params.destinations ?? (devUpstream ? devUpstreamDestinations(devUpstream) : providerDestinations()),
  });
  process.stdout.write(
    "# Rendered by scripts/render-envoy.mjs: change the parameters, not this file.\n" + yaml,
  );
} catch (error) {
  if (error?.issues) {
    for (const issue of error.issues)
      console.error(`render-envoy: ${issue.path.join(".")}: ${issue.message}`);
    process.exit(2);
  }
  throw error;
}
