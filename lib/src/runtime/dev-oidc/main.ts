#!/usr/bin/env node
import { startDevIssuer } from "./issuer.js";

/** Runs the development-only OIDC issuer: `main.js <state dir> <port>` (started by `warden up`). */
const [dir, port] = process.argv.slice(2);
if (!dir || !port || !/^\d+$/.test(port)) {
  process.stderr.write("usage: dev-oidc <state dir> <port>\n");
  process.exit(2);
}
const server = await startDevIssuer(dir, Number(port)).catch((error: unknown) => {
  process.stderr.write(`dev-oidc: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
process.stdout.write(`dev-oidc (DEVELOPMENT ONLY) listening on http://127.0.0.1:${port}\n`);
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => server.close(() => process.exit(0)));
