/**
 * `npm run bench -- <suite>`: authz, path, sse, revocation, scale, all; `audit` (the decision audit's
 * cost, needs only scripts/setup); `rls` (what row-level security costs the data plane's statements); `footprint` (RSS and CPU per
 * 1,000 rps of each sidecar process, needs only scripts/setup: deploy/kubernetes sizes from it); `portal` (portal page loads
 * with 10,000 agents and 100,000 audit rows, needs only PostgreSQL); `mcp` (MCP tools/call through the sidecar vs direct at 200 rps,
 * needs only scripts/setup; `--smoke` for a short unsaved run); `smoke` (the seconds-long CI
 * check, no bench tools needed) and `report` (docs/benchmarks.md table and charts from
 * bench/results/). Option --profile (authz, path, sse): CPU profiles even when the targets are met.
 * See docs/benchmarks.md.
 */
import { reportSuite } from "./src/report/report.js";
import { auditSuite } from "./src/suites/audit.js";
import { mcpSuite } from "./src/suites/mcp.js";
import { authzSuite } from "./src/suites/authz.js";
import { pathSuite } from "./src/suites/path.js";
import { revocationSuite } from "./src/suites/revocation.js";
import { scaleSuite } from "./src/suites/scale.js";
import { smokeSuite } from "./src/suites/smoke.js";
import { sseSuite } from "./src/suites/sse.js";
import { tailSuite } from "./src/suites/tail.js";
import { coresSuite } from "./src/suites/cores.js";
import { realPathSuite } from "./src/suites/realpath.js";
import { rlsSuite } from "./src/suites/rls.js";
import { portalSuite } from "./src/portal-pages.js";
import { footprintSuite } from "./src/suites/footprint.js";
import { transportSuite } from "./src/suites/transport.js";
import { benchLine, type SuiteRun } from "./src/results.js";

type Suite = (args: string[]) => Promise<SuiteRun | undefined>;

const SUITES: Record<string, Suite> = {
  authz: (args) => authzSuite({ profile: args.includes("--profile") }),
  path: (args) => pathSuite({ profile: args.includes("--profile") }),
  sse: (args) => sseSuite({ profile: args.includes("--profile") }),
  revocation: () => revocationSuite(),
  scale: () => scaleSuite(),
  smoke: () => smokeSuite(),
  audit: (args) => auditSuite({ profile: args.includes("--profile") }),
  tail: () => tailSuite(),
  cores: () => coresSuite(),
  realpath: (args) => realPathSuite({ profile: args.includes("--profile") }),
  mcp: (args) => mcpSuite({ smoke: args.includes("--smoke") }),
  rls: () => rlsSuite(),
  portal: () => portalSuite(),
  footprint: () => footprintSuite(),
  transport: () => transportSuite(),
  report: async () => {
    await reportSuite();
    return undefined;
  },
};
const ALL = ["authz", "path", "sse", "revocation", "scale"];

async function main(): Promise<number> {
  const [name, ...args] = process.argv.slice(2);
  if (name === "all") {
    // One failing suite (a component that would not start) does not cost the others their run.
    const runs: SuiteRun[] = [];
    const failed: string[] = [];
    for (const suite of ALL) {
      try {
        const run = await SUITES[suite]!(args);
        if (run) runs.push(run);
      } catch (error) {
        failed.push(suite);
        process.stderr.write(
          `bench ${suite} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
        );
      }
    }
    await reportSuite();
    for (const run of runs) process.stdout.write(`${benchLine(run.suite, run.headline)}\n`);
    if (failed.length > 0) process.stdout.write(`BENCH all failed=${failed.join(",")}\n`);
    return failed.length > 0 ? 1 : 0;
  }
  const suite = name ? SUITES[name] : undefined;
  if (!suite) {
    process.stderr.write(
      `usage: npm run bench -- <${[...Object.keys(SUITES), "all"].join("|")}> [--profile]\n`,
    );
    return 2;
  }
  await suite(args);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
