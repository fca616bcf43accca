#!/usr/bin/env node
import { parseArgs } from "node:util";
import { startDevIssuer } from "./issuer.js";

/**
 * Runs the development-only OIDC issuer: `main.js <state dir> <port> [--host h] [--issuer url]`
 * (started by `warden up`; the compose stack's dev-oidc service listens on all its addresses and
 * names itself by its service name).
 */
const USAGE = "usage: dev-oidc <state dir> <port> [--host 127.0.0.1] [--issuer http://host:port]";
let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { host: { type: "string" }, issuer: { type: "string" } },
  });
}
try {
  parsed = parse();
} catch (error) {
  process.stderr.write(`dev-oidc: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(2);
}
const [dir, port] = parsed.positionals;
const { host, issuer } = parsed.values;
if (!dir || !port || !/^\d+$/.test(port) || (issuer !== undefined && !/^https?:\/\/[^/]+$/.test(issuer))) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const server = await startDevIssuer(dir, Number(port), { host, issuer }).catch((error: unknown) => {
  process.stderr.write(`dev-oidc: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
process.stdout.write(
  `dev-oidc (DEVELOPMENT ONLY) listening on ${host ?? "127.0.0.1"}:${port}, issuer ${issuer ?? `http://127.0.0.1:${port}`}\n`,
);
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => server.close(() => process.exit(0)));
