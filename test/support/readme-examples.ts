import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "../harness/process.js";

/**
 * The TypeScript SDK README's examples, run verbatim as the agent: each `### title` section's `ts`
 * block, and the `text` block after it holding what it prints. Which suite runs which example is
 * listed here, so an example no suite runs fails the check in sdk-typescript.test.ts.
 */
export const SDK_README = join(REPO_ROOT, "sdk", "typescript", "README.md");

export const README_EXAMPLES_BY_SUITE = {
  /** test/integration/sdk-typescript.test.ts: the data plane with a stub OpenAI upstream */
  dataPlane: [
    "Call the sidecar",
    "Stream a chat completion with the official OpenAI client",
    "Handle a refusal",
    "Call on a user's behalf",
  ],
  /** test/integration/sdk-typescript-mcp.test.ts: the governed MCP environment */
  mcp: ["Call an MCP server's tools"],
} as const;

export interface ReadmeExample {
  title: string;
  code: string;
  output: string;
}

export function readmeExamples(): ReadmeExample[] {
  const text = readFileSync(SDK_README, "utf8");
  const pattern = /^### (.+)\n[\s\S]*?^```ts\n([\s\S]*?)^```\n[\s\S]*?^```text\n([\s\S]*?)^```$/gm;
  return [...text.matchAll(pattern)].map((m) => ({ title: m[1]!, code: m[2]!, output: m[3]! }));
}

export function readmeExample(title: string): ReadmeExample {
  const example = readmeExamples().find((e) => e.title === title);
  if (!example) throw new Error(`no example "${title}" in ${SDK_README}`);
  return example;
}

const run = promisify(execFile);
let runs = 0;

/** Runs an example as an ES module under the repository (so `@agent-warden/sdk` resolves); its stdout. */
export async function runReadmeExample(example: ReadmeExample, env: NodeJS.ProcessEnv): Promise<string> {
  const dir = join(REPO_ROOT, ".run", "sdk-ts-readme");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `example-${process.pid}-${++runs}.mjs`);
  writeFileSync(file, example.code);
  const { stdout } = await run(process.execPath, [file], {
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return stdout;
}
