import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startOpenAiStub } from "../stubs/llm-openai.js";
import type { LlmStub } from "../stubs/llm-stub-server.js";
import { freePortBase, runShellBlocks, shellBlocks, type ShellRun } from "./local-stack-fixture.js";

/**
 * docs/quickstart.md, verbatim: every `sh` block of the page runs in order in one bash, from the
 * checkout, as a new user would paste them. What stands in for the user's machine: a fresh
 * WARDEN_HOME and port base, `python3` with the pinned `openai` package first on PATH, the provider
 * key in OPENAI_API_KEY, and the provider itself (WARDEN_DEV_UPSTREAM → an OpenAI stub that accepts
 * only that key, a third party).
 */
const PAGE = join(REPO_ROOT, "docs", "quickstart.md");
const PROVIDER_KEY = "sk-quickstart-held-in-openbao-4f1c9e";

let home: string;
let provider: LlmStub;
let env: NodeJS.ProcessEnv;
let run: ShellRun | undefined;

beforeAll(async () => {
  // Short: the SPIRE sockets live under it (unix socket paths are limited to 107 bytes).
  home = mkdtempSync(join(tmpdir(), "wqs-"));
  provider = await startOpenAiStub({ validKeys: () => [PROVIDER_KEY] });
  env = {
    ...process.env,
    PATH: `${join(REPO_ROOT, ".tools", "venv", "bin")}:${process.env.PATH ?? ""}`,
    WARDEN_HOME: home,
    WARDEN_PORT_BASE: String(await freePortBase()),
    WARDEN_DEV_UPSTREAM: `127.0.0.1:${provider.port}`,
    OPENAI_API_KEY: PROVIDER_KEY,
    WARDEN_API_URL: "",
    WARDEN_TOKEN: "",
    WARDEN_TOKEN_FILE: "",
  };
  run = await runShellBlocks(shellBlocks(readFileSync(PAGE, "utf8")), env);
}, 600_000);

afterAll(async () => {
  await new Promise((resolve) =>
    spawn("npm", ["run", "-s", "warden", "--", "down"], { cwd: REPO_ROOT, env, stdio: "ignore" }).on(
      "close",
      resolve,
    ),
  );
  await provider?.close();
  if (home) rmSync(home, { recursive: true, force: true });
}, TEARDOWN_TIMEOUT_MS);

describe("docs/quickstart.md, run verbatim", () => {
  test("every block runs and the shell exits 0", () => {
    expect(shellBlocks(readFileSync(PAGE, "utf8"))).toHaveLength(6);
    if (run!.code !== 0)
      throw new Error(`the page failed (exit ${run!.code}):\n${run!.blocks.join("")}\n${run!.stderr}`);
    expect(run!.blocks).toHaveLength(6);
  });

  test("the agent of one's own gets the provider's answer, the key injected by the sidecar", () => {
    expect(run!.blocks[4]).toContain("agent got: Hello from the stub.");
    const chats = provider.requests.filter((r) => r.path === "/v1/chat/completions");
    expect(chats.length).toBeGreaterThan(0);
    for (const chat of chats) expect(chat.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    // The agent's placeholder never reached the provider.
    expect(provider.requests.map((r) => JSON.stringify(r.headers)).join("")).not.toContain(
      "none-the-sidecar-holds-the-key",
    );
  });

  test("warden usage and warden audit list show the call; the chain verifies", () => {
    const shown = run!.blocks[5] ?? "";
    const agentId = /spiffe:\/\/warden\.local\/agent\/my-agent/.source;
    // warden usage: one request of gpt-4o-mini with the provider's token counts, against the agent.
    expect(shown).toMatch(new RegExp(`^${agentId}\\s+gpt-4o-mini\\s+1\\s+11\\s+5\\s`, "m"));
    // warden audit list: the onboarding, the policy decision and the LLM call, with the SPIFFE ID.
    for (const action of ["agent.created", "kya.approved", "authz.decision", "llm.request"]) {
      expect(shown).toMatch(new RegExp(`\\s${action.replace(".", "\\.")}\\s+\\S+\\s+${agentId}\\s`));
    }
    expect(shown).toMatch(/^OK: audit chain intact/m);
  });

  test("the provider key is never printed", () => {
    expect(run!.blocks.join("")).not.toContain(PROVIDER_KEY);
    expect(run!.stderr).not.toContain(PROVIDER_KEY);
    const logs = join(home, "logs");
    for (const log of readdirSync(logs)) {
      expect(readFileSync(join(logs, log), "utf8")).not.toContain(PROVIDER_KEY);
    }
  });
});
