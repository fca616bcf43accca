#!/usr/bin/env node
// Writes docs/configuration.md from the servers' configuration schemas (compiled: run after the build).
import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const load = (path) => import(resolve(root, "dist", path));

const { CONFIG_DOCS_PATH, renderConfigDocs } = await load("lib/src/config-docs.js");
const { authzConfigReference } = await load("authz-server/src/config.js");
const { extprocConfigReference } = await load("extproc-server/src/config.js");
const { controlPlaneConfigReference } = await load("control-plane/src/config.js");

const text = renderConfigDocs([authzConfigReference, extprocConfigReference, controlPlaneConfigReference]);
writeFileSync(resolve(root, CONFIG_DOCS_PATH), text);
console.log(`wrote ${CONFIG_DOCS_PATH}`);
