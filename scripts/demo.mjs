#!/usr/bin/env node
// `npm run demo [-- --once]`: installs what is missing and builds (scripts/prepare.mjs), then runs
// Warden as `warden up` does (the supervisor in lib/src/runtime: PostgreSQL, OpenBao, SPIRE, the
// development OIDC issuer, control plane, authz-server with the shipped governance policy,
// extproc-server, Envoy with SPIRE mTLS), onboards an agent with the `warden` CLI and lets an example
// agent (the official openai SDK, base URL = the sidecar, its own uid and SVID) call a stub provider
// (the only stand-in: a third party). Exits non-zero when a step misbehaves.
// Without --once it keeps the stack up until Ctrl-C and prints what to try.
import { execFile, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { prepare } from "./prepare.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const once = process.argv.includes("--once");
const AGENT_UID = 10100;
const KEY = "sk-demo-held-by-openbao";

// Installs what is missing (tools, node modules) and builds, one line per step.
prepare();

const load = (path) => import(pathToFileURL(resolve(root, "dist", path)).href);
const { loadRuntimeConfig } = await load("lib/src/runtime/layout.js");
const { createSupervisor } = await load("lib/src/runtime/stack.js");
const { startStubUpstream } = await load("test/stubs/upstream.js");
const pg = (await import("pg")).default;

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const say = (label, text = "") => console.log(`\n▶ ${label}${text ? `\n${text}` : ""}`);
let failures = 0;
const check = (ok, what) => {
  if (!ok) {
    failures += 1;
    console.log(`  ✗ ${what}`);
  }
  return ok;
};

function portFree(port) {
  return new Promise((done) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => (socket.destroy(), done(false)));
    socket.once("error", () => done(true));
  });
}
async function freePortBase() {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const free = await Promise.all(Array.from({ length: 11 }, (_, i) => portFree(base + i)));
    if (free.every(Boolean)) return base;
  }
}

const home = join(root, ".run", "demo-home");
rmSync(home, { recursive: true, force: true });
const upstream = await startStubUpstream();
const env = {
  ...process.env,
  WARDEN_HOME: home,
  WARDEN_PORT_BASE: String(await freePortBase()),
  WARDEN_DEV_UPSTREAM: `127.0.0.1:${upstream.port}`,
  WARDEN_API_URL: "",
  WARDEN_TOKEN: "",
  WARDEN_TOKEN_FILE: "",
};
const CLI = join(root, "dist", "control-plane", "src", "cli", "main.js");

/** `warden …` as a user types it; echoes the command and its output. */
function warden(args, input) {
  console.log(`  $ warden ${args.join(" ")}`);
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { env, timeout: 60_000 },
      (error, stdout, stderr) => {
        const text = `${stdout}${stderr}`.trimEnd();
        if (text) console.log(text.replace(/^/gm, "    "));
        done({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
      },
    );
    child.stdin.end(input ?? "");
  });
}

/** The example agent as its own process under its own uid; its JSON lines. */
function runAgent(state, extra = []) {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      [
        join(root, "dist", "test", "agents", "openai-agent.js"),
        "--base-url",
        `${state.agentUrl}/openai/v1`,
        "--sidecar-id",
        state.envoySpiffeId,
        ...extra,
      ],
      {
        cwd: root,
        env: { PATH: process.env.PATH, SPIFFE_ENDPOINT_SOCKET: state.workloadEndpoint },
        uid: AGENT_UID,
        gid: AGENT_UID,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const events = [];
    let buffered = "";
    let errors = "";
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop();
      for (const line of lines) {
        if (!line.startsWith("{")) continue;
        const event = JSON.parse(line);
        event.arrivedMs = Date.now();
        events.push(event);
      }
    });
    child.stderr.on("data", (chunk) => (errors += chunk));
    child.on("exit", () => done({ events, errors }));
  });
}

const supervisor = createSupervisor(loadRuntimeConfig(env), (line) => console.log(line));
try {
  say("warden up: the whole stack, real components, state in .run/demo-home");
  await supervisor.start();
  const state = supervisor.state();
  console.log(`  up in ${elapsed()}; agents call ${state.agentUrl} with mTLS (SPIRE SVIDs)`);

  say("an operator logs in, stores the OpenAI key in OpenBao and adds an agent (its own uid)");
  check((await warden(["login"])).code === 0, "warden login");
  const keySet = await warden(["llm-key", "set", "openai"], `${KEY}\n`);
  check(keySet.code === 0 && !keySet.stdout.includes(KEY), "llm-key set stores the key without echoing it");
  const added = await warden([
    "agent",
    "add",
    "demo-agent",
    "--selector",
    `unix:uid:${AGENT_UID}`,
    "--image-digest",
    `sha256:${"c".repeat(64)}`,
    "--checklist",
    "no_embedded_credentials,dependencies_scanned,least_privilege_scopes,audit_logging,data_retention_policy",
    "--endpoint",
    "https://api.openai.com/v1/chat/completions",
  ]);
  check(added.code === 0, "warden agent add");
  const attestationId = /KYA submitted: (\S+)/.exec(added.stdout)?.[1];

  say("a. the agent (openai SDK, no key) calls chat completions before its KYA is approved");
  let run;
  for (let attempt = 0; attempt < 40; attempt += 1) {
    run = await runAgent(state);
    const refused = run.events.find((e) => e.event === "refused");
    if (refused && refused.code !== "agent_unknown") break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const refused = run.events.find((e) => e.event === "refused");
  console.log(
    `  agent ${run.events[0]?.spiffe_id ?? "(no SVID)"}: ${refused ? `${refused.status} ${refused.code}: ${refused.message}` : JSON.stringify(run.events.at(-1) ?? run.errors)}`,
  );
  check(refused?.status === 403 && /^kya_(missing|pending)$/.test(refused.code), "refused for KYA");

  say("b. a reviewer approves the KYA; the agent calls again");
  check((await warden(["login", "--user", "reviewer"])).code === 0, "reviewer login");
  check(
    (await warden(["kya", "approve", attestationId ?? "-", "--level", "2", "--capability", "llm:chat"]))
      .code === 0,
    "kya approve",
  );
  let reply;
  for (let attempt = 0; attempt < 40 && !reply; attempt += 1) {
    run = await runAgent(state);
    reply = run.events.find((e) => e.event === "reply");
    if (!reply) await new Promise((r) => setTimeout(r, 250));
  }
  const seen = upstream.requests.at(-1);
  console.log(`  reply: ${JSON.stringify(reply?.content)}`);
  console.log(
    `  the provider saw authorization: ${seen?.headers.authorization === `Bearer ${KEY}` ? "the key from OpenBao" : String(seen?.headers.authorization)}; the agent sent a placeholder`,
  );
  check(
    reply !== undefined && seen?.headers.authorization === `Bearer ${KEY}`,
    "allowed with the OpenBao key",
  );

  say("c. a streamed completion, event by event");
  run = await runAgent(state, ["--stream", "--prompt", "tell me a story"]);
  const chunks = run.events.filter((e) => e.event === "chunk");
  console.log(`  ${chunks.length} chunks at ${chunks.map((c) => `${c.ms} ms`).join(", ")}`);
  check(chunks.length > 1, "streamed in several events");
  const db = new pg.Client({ connectionString: state.databaseUrl });
  await db.connect();
  let usage = [];
  for (let attempt = 0; attempt < 40 && usage.length < 2; attempt += 1) {
    usage = (
      await db.query(
        "SELECT provider, model, stream, status, input_tokens, output_tokens, cost_pico_usd FROM llm_usage ORDER BY id",
      )
    ).rows;
    if (usage.length < 2) await new Promise((r) => setTimeout(r, 250));
  }
  for (const row of usage)
    console.log(
      `  usage: ${row.provider} ${row.model} stream=${row.stream} status=${row.status} in=${row.input_tokens} out=${row.output_tokens} cost=${row.cost_pico_usd === null ? "-" : `$${(Number(row.cost_pico_usd) / 1e12).toFixed(8)}`}`,
    );
  await db.end();
  check(usage.some((row) => row.stream) && usage.some((row) => !row.stream), "usage recorded for both calls");

  say(
    "d./e. delegation and its revocation: not in this demo yet (see test/integration/delegation-e2e.test.ts)",
  );

  say("f. the audit trail, and its hash chain verified");
  check((await warden(["login"])).code === 0, "admin login");
  await warden(["audit", "list", "--limit", "15"]);
  check((await warden(["audit", "verify"])).code === 0, "audit verify");

  console.log(`\ndemo: done in ${elapsed()}`);
  if (!once) {
    console.log(
      [
        "",
        "demo: the stack is up. Try (in another shell):",
        `  export WARDEN_HOME=${home}`,
        "  npm run warden -- status",
        "  npm run warden -- agents list",
        "  npm run warden -- logs authz-server",
        `  agents: ${state.agentUrl}/openai/v1 with an SVID from SPIFFE_ENDPOINT_SOCKET=${state.workloadEndpoint}`,
        "  the demo agent's SVID as files, and curl with it (-k: curl cannot check the sidecar's SPIFFE ID):",
        `    install -d -o ${AGENT_UID} -g ${AGENT_UID} -m 0700 /tmp/demo-svid`,
        `    setpriv --reuid=${AGENT_UID} --regid=${AGENT_UID} --clear-groups .tools/bin/spire-agent api fetch x509 -socketPath ${state.workloadEndpoint.replace("unix://", "")} -write /tmp/demo-svid`,
        `    curl -k --cert /tmp/demo-svid/svid.0.pem --key /tmp/demo-svid/svid.0.key ${state.agentUrl}/openai/v1/chat/completions -H 'content-type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'`,
        "Ctrl-C to stop.",
      ].join("\n"),
    );
    await new Promise((resolveWait) => process.once("SIGINT", resolveWait));
  }
} catch (error) {
  failures += 1;
  console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await supervisor.stop();
  await upstream.close();
}
console.log(failures === 0 ? "\ndemo: all good" : `\ndemo: ${failures} step(s) did not behave as expected`);
process.exit(failures === 0 ? 0 : 1);
