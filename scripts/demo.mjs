#!/usr/bin/env node
// `npm run demo [-- --once]`: installs what is missing and builds (scripts/prepare.mjs), starts the
// local stack (real Envoy sidecar → authz-server with a Rego policy compiled to WASM → extproc-server
// → a stub LLM provider), sends a few requests as an agent would, and prints what happened.
// Without --once it keeps the sidecar up until Ctrl-C so you can send your own requests.
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { prepare } from "./prepare.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const once = process.argv.includes("--once");

// Installs what is missing (tools, node modules) and builds, one line per step.
prepare();

const { startStack } = await import(pathToFileURL(resolve(root, "dist/test/harness/stack.js")).href);

const stack = await startStack({ name: "demo" });
const say = (label, text) => console.log(`\n▶ ${label}\n${text}`);
let failures = 0;

try {
  console.log(
    `\ndemo: sidecar for agents at ${stack.agentUrl} (OpenAI base URL ${stack.agentUrl}/openai/v1)`,
  );

  // 1. Allowed: the agent sends a placeholder key; the upstream never sees it.
  let response = await fetch(`${stack.agentUrl}/openai/v1/chat/completions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: "Bearer sk-placeholder-the-agent-holds-no-key",
    },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] }),
  });
  const seen = stack.upstream.requests.at(-1);
  say(
    "allowed: POST /openai/v1/chat/completions",
    `  status ${response.status}, decision ${response.headers.get("x-warden-decision-id")}\n` +
      `  upstream saw authorization header: ${seen?.headers.authorization ? "yes (BAD)" : "no (removed by the sidecar)"}\n` +
      `  upstream saw x-warden-decision-id: ${seen?.headers["x-warden-decision-id"] ?? "-"}\n` +
      `  agent saw set-cookie from upstream: ${response.headers.get("set-cookie") ? "yes (BAD)" : "no (stripped)"}`,
  );
  if (response.status !== 200 || seen?.headers.authorization) failures += 1;
  await response.text();

  // 2. Denied by the policy, with a JSON reason; the upstream never sees it.
  const before = stack.upstream.requests.length;
  response = await fetch(`${stack.agentUrl}/openai/v1/models`, { headers: { "x-test-deny": "1" } });
  say(
    "denied: GET /openai/v1/models (the demo policy denies requests marked x-test-deny)",
    `  status ${response.status}, body ${await response.text()}\n` +
      `  reached the upstream: ${stack.upstream.requests.length > before ? "yes (BAD)" : "no"}`,
  );
  if (response.status !== 403) failures += 1;

  // 3. Streamed: SSE events pass through one by one, as the upstream sends them.
  const started = Date.now();
  response = await fetch(`${stack.agentUrl}/openai/v1/sse?events=5&interval=200`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const arrivals = [];
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    const events = buffered.split("\n\n");
    buffered = events.pop() ?? "";
    for (const event of events) if (event.trim()) arrivals.push(Date.now() - started);
  }
  say(
    "streamed: GET /openai/v1/sse (5 events, 200 ms apart)",
    `  status ${response.status}, events arrived at ${arrivals.map((t) => `${t} ms`).join(", ")}`,
  );
  if (arrivals.length !== 5) failures += 1;

  // 4. No route: a JSON 404 from the sidecar, nothing forwarded.
  response = await fetch(`${stack.agentUrl}/nowhere`);
  say("unknown route: GET /nowhere", `  status ${response.status}, body ${await response.text()}`);

  if (!once) {
    console.log(
      `\ndemo: the stack is up. Try:\n  curl -s ${stack.agentUrl}/openai/v1/models\nCtrl-C to stop.`,
    );
    await new Promise((resolveWait) => process.once("SIGINT", resolveWait));
  }
} finally {
  await stack.stop();
}
console.log(failures === 0 ? "\ndemo: all good" : `\ndemo: ${failures} step(s) did not behave as expected`);
process.exit(failures === 0 ? 0 : 1);
