import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT, waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import type { Stack } from "../harness/stack.js";
import type { LlmStub } from "../stubs/llm-stub-server.js";
import { startOpenAiSidecar, type OpenAiSidecar } from "./openai-sidecar-fixture.js";

/**
 * The PyPI `openai` SDK (pinned in scripts/setup,
 * installed into .tools/venv) runs `for chunk in stream: chunk.choices[0].delta.content` through
 * real Envoy and extproc-server. Warden asks the provider for usage; the agent, which did not, must
 * not get the usage-only chunk (IndexError), and its sync client closing right after [DONE] must
 * count as a completed call.
 */
const PYTHON = join(REPO_ROOT, ".tools", "venv", "bin", "python");
const SCRIPT = join(REPO_ROOT, "test", "agents", "openai_stream.py");
const OPENAI_KEY = "sk-vault-acme-openai-python-0a1b2c3d4e5f";
const run = promisify(execFile);

let sidecar: OpenAiSidecar | undefined;
let stub: LlmStub;
let stack: Stack;

beforeAll(async () => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run scripts/setup`);
  sidecar = await startOpenAiSidecar("llm-python-sdk", OPENAI_KEY);
  ({ stub, stack } = sidecar);
}, 180_000);

afterAll(() => sidecar?.close(), TEARDOWN_TIMEOUT_MS);

interface ScriptResult {
  text: string;
  chunks: number;
  decision_id: string;
}

async function pythonStream(...headers: string[]): Promise<ScriptResult> {
  const { stdout } = await run(PYTHON, [SCRIPT, `${stack.agentUrl}/openai/v1`, ...headers], {
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as ScriptResult;
}

function usageOf(decisionId: string): Record<string, unknown> {
  const line = stack.extproc
    .process()
    .log()
    .split("\n")
    .find((entry) => entry.includes('"llm usage"') && entry.includes(decisionId));
  return line ? ((JSON.parse(line) as { usage_record: Record<string, unknown> }).usage_record ?? {}) : {};
}

test("`for chunk in stream: chunk.choices[0].delta.content` works through the sidecar", async () => {
  const result = await pythonStream("x-stub-events=4");
  expect(result.text).toBe("w0 w1 w2 w3 ");
  // role chunk, four content chunks, the finish chunk: no usage-only chunk.
  expect(result.chunks).toBe(6);
  expect(JSON.parse(stub.requests.at(-1)!.body)).toMatchObject({ stream_options: { include_usage: true } });
  await waitFor("usage record", () => Object.keys(usageOf(result.decision_id)).length > 0, 5_000);
  expect(usageOf(result.decision_id)).toMatchObject({
    outcome: "completed",
    usageSource: "stream",
    usage: expect.objectContaining({ inputTokens: 11, outputTokens: 4 }),
  });
});

test("the sync client closing right after [DONE] (the provider still open) is a completed call", async () => {
  const result = await pythonStream("x-stub-hold-open-ms=3000");
  expect(result.text).toBe("w0 w1 w2 ");
  await waitFor("usage record", () => Object.keys(usageOf(result.decision_id)).length > 0, 5_000);
  expect(usageOf(result.decision_id)).toMatchObject({ outcome: "completed", usageSource: "stream" });
});
