import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, sleep, startProcess, stopAll, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { currentProcessSelector, startSpire, type SpireStack } from "../harness/spire.js";
import { startStack, type Stack } from "../harness/stack.js";
import { SvidSource, Warden } from "../../sdk/typescript/src/index.js";

/**
 * Both SDKs across SVID rotations, in the same 3 minutes: with a 60 s X.509-SVID TTL for every
 * workload (agents, Envoy, authz-server, extproc-server), a TypeScript agent (this process, the SDK's
 * Warden client) and a Python agent (sdk/python/tests/rotation_check.py, the Python SDK, a process of
 * its own with its own Workload API stream; the same uid, so the same SPIFFE ID: the Python
 * interpreter of the tools venv is not readable by another uid) each send a chat completion every
 * 250 ms through the sidecar. Not one call may fail, and each
 * agent must have used at least three SVIDs. Takes ~3.5 minutes: runs only with WARDEN_LONG_TESTS=1.
 */
const LONG = process.env.WARDEN_LONG_TESTS === "1";
const RUN_MS = Number(process.env.WARDEN_ROTATION_MS ?? 180_000);
const INTERVAL_MS = 250;
const AGENT = "spiffe://warden.local/agent/sdk-rotation-bot";
const PYTHON = join(REPO_ROOT, ".tools", "venv", "bin", "python");
const PY_CHECK =
  process.env.WARDEN_SDK_PY_ROTATION_CHECK ?? join(REPO_ROOT, "sdk", "python", "tests", "rotation_check.py");
const SDK_POLICY = join(REPO_ROOT, "test", "fixtures", "policy-sdk");
const CHAT = { model: "gpt-4o-mini", messages: [{ role: "user", content: "rotation check" }] };

interface PythonSummary {
  calls: number;
  failures: number;
  rotations: number;
  spiffe_id: string;
  errors: string[];
}

let spire: SpireStack;
let stack: Stack;

(LONG ? describe : describe.skip)("both SDKs across SVID rotations (WARDEN_LONG_TESTS=1)", () => {
  beforeAll(async () => {
    if (!existsSync(PY_CHECK)) throw new Error(`${PY_CHECK} is missing (the Python SDK's rotation check)`);
    spire = await startSpire({ name: "sdk-rotation-spire", svidTtl: "60s", logLevel: "INFO" });
    await spire.register(AGENT, [currentProcessSelector()]);
    await spire.waitForSvid(AGENT);
    stack = await startStack({ name: "sdk-rotation", spire, policyDir: SDK_POLICY });
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await spire?.stop();
    await stopAll();
  }, TEARDOWN_TIMEOUT_MS);

  /** The TypeScript agent: one Warden client, a call every INTERVAL_MS for RUN_MS. */
  async function typescriptCheck(): Promise<{
    calls: number;
    failures: number;
    svids: number;
    errors: string[];
  }> {
    const svids = await SvidSource.open({ endpoint: spire.endpoint });
    const warden = await Warden.connect({ sidecarUrl: stack.agentUrl.replace("http:", "https:"), svids });
    let calls = 0;
    let failures = 0;
    const errors: string[] = [];
    try {
      expect(warden.spiffeId).toBe(AGENT);
      const until = Date.now() + RUN_MS;
      while (Date.now() < until) {
        calls += 1;
        try {
          await warden.json("/openai/v1/chat/completions", { method: "POST", body: CHAT });
        } catch (error) {
          failures += 1;
          if (errors.length < 5) errors.push(String(error));
        }
        await sleep(INTERVAL_MS);
      }
      return { calls, failures, svids: svids.serials.length, errors };
    } finally {
      warden.close();
      svids.close();
    }
  }

  it(
    "no call fails in either language while every SVID rotates",
    async () => {
      const python = startProcess({
        name: "sdk-rotation-python",
        command: PYTHON,
        args: [PY_CHECK, "--seconds", String(RUN_MS / 1000), "--interval-ms", String(INTERVAL_MS)],
        env: {
          WARDEN_SIDECAR_URL: stack.agentUrl.replace("http:", "https:"),
          WARDEN_SIDECAR_SPIFFE_ID: stack.identities!.envoy,
          SPIFFE_ENDPOINT_SOCKET: spire.endpoint,
        },
      });
      const ts = await typescriptCheck();
      const pythonCode = await python.waitForExit();
      const lastLine = python.log().trim().split("\n").at(-1) ?? "";
      const py = (lastLine.startsWith("{") ? JSON.parse(lastLine) : null) as PythonSummary | null;
      const figures = {
        seconds: RUN_MS / 1000,
        typescript: { calls: ts.calls, failures: ts.failures, svids: ts.svids, errors: ts.errors },
        python: py ?? { exit: pythonCode, log: python.log().slice(-1000) },
      };
      process.stdout.write(`sdk rotation figures: ${JSON.stringify(figures)}\n`);

      expect(ts.failures).toBe(0);
      expect(ts.calls).toBeGreaterThan(RUN_MS / 1_000);
      // The first SVID and at least two rotations.
      expect(ts.svids).toBeGreaterThanOrEqual(3);
      expect(pythonCode).toBe(0);
      expect(py).toMatchObject({ failures: 0, spiffe_id: AGENT });
      expect(py!.calls).toBeGreaterThan(RUN_MS / 1_000);
      expect(py!.rotations).toBeGreaterThanOrEqual(2);
    },
    RUN_MS + 90_000,
  );
});
