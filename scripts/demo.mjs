#!/usr/bin/env node
// `npm run demo [-- --once]`: installs what is missing and builds (scripts/prepare.mjs), then runs
// Warden as `warden up` does (the supervisor in lib/src/runtime: PostgreSQL, OpenBao, SPIRE, the
// development OIDC issuer, control plane, authz-server with the shipped governance policy,
// extproc-server, Envoy with SPIRE mTLS), onboards an agent with the `warden` CLI and lets an example
// agent (the official openai SDK, base URL = the sidecar, its own uid and SVID) call a stub provider,
// then lets a user connect a (stub) Google Drive account and delegate read access to the agent, and
// revokes it. The stand-ins are third parties only: the LLM provider, the OAuth provider and its
// Drive API. Exits non-zero when a step misbehaves.
// Without --once it keeps the stack up until Ctrl-C and prints what to try.
import { execFile, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
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
const { startOpenAiStub } = await load("test/stubs/llm-openai.js");
const { catalogueWithDriveAt, startOAuthProviderStub } = await load("test/stubs/oauth-provider.js");
const { BaoClient, openBaoFiles, readRootToken } = await load("lib/src/runtime/components/openbao.js");
const { cliTokenFile } = await load("lib/src/runtime/local-session.js");
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
// OpenAI's stand-in: accepts only the key OpenBao holds, reports usage as OpenAI does (in a last
// stream chunk only when asked with stream_options.include_usage, which the sidecar adds).
const upstream = await startOpenAiStub({ validKeys: () => [KEY] });
// The OAuth provider (Google's stand-in) with its Drive API, and its OAuth client as registered there.
const DRIVE_CLIENT = { clientId: "warden-demo-drive", clientSecret: `demo-${Date.now().toString(36)}` };
const provider = await startOAuthProviderStub(DRIVE_CLIENT);
// WARDEN_DEV_UPSTREAM sends every provider route to one local address: Drive paths go to the
// OAuth provider stub, the rest to the LLM stub (streams pass through chunk by chunk).
const dispatcher = createServer((req, res) => {
  const drive = req.url?.startsWith("/drive/");
  // The LLM stub paces its stream (5 content events, 20 ms apart), as a real model would.
  const pacing = drive ? {} : { "x-stub-events": "5", "x-stub-interval-ms": "20" };
  const out = httpRequest(
    {
      host: "127.0.0.1",
      port: drive ? provider.port : upstream.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, ...pacing },
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  out.on("error", () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
  req.pipe(out);
});
await new Promise((done) => dispatcher.listen(0, "127.0.0.1", done));
// The SaaS catalogue, extended by configuration only: Google Drive's OAuth endpoints are the stub's.
const catalogueDir = mkdtempSync(join(tmpdir(), "warden-demo-"));
chmodSync(catalogueDir, 0o755);
const catalogue = catalogueWithDriveAt(provider.url);
const cataloguePath = join(catalogueDir, "services.json");
writeFileSync(cataloguePath, JSON.stringify(catalogue), { mode: 0o644 });
// The components inherit these (control plane and extproc-server read the catalogue; the stub is
// on loopback, which outbound calls refuse unless listed).
process.env.WARDEN_SAAS_CATALOGUE = cataloguePath;
process.env.WARDEN_OUTBOUND_ALLOW_PRIVATE_HOSTS = "127.0.0.1";
const env = {
  ...process.env,
  WARDEN_HOME: home,
  WARDEN_PORT_BASE: String(await freePortBase()),
  WARDEN_DEV_UPSTREAM: `127.0.0.1:${dispatcher.address().port}`,
  WARDEN_API_URL: "",
  WARDEN_TOKEN: "",
  WARDEN_TOKEN_FILE: "",
};
const CLI = join(root, "dist", "control-plane", "src", "cli", "main.js");

/** `warden …` as a user types it; echoes the command and (unless `echo` is false) its output. */
function warden(args, input, { echo = true } = {}) {
  console.log(`  $ warden ${args.join(" ")}`);
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { env, timeout: 60_000 },
      (error, stdout, stderr) => {
        const text = `${stdout}${stderr}`.trimEnd();
        if (text && echo) console.log(text.replace(/^/gm, "    "));
        done({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
      },
    );
    child.stdin.end(input ?? "");
  });
}

/** The example agent as its own process under its own uid; its JSON lines. */
function runAgent(state, extra = []) {
  return runAgentProgram(state, "openai-agent.js", ["--base-url", `${state.agentUrl}/openai/v1`, ...extra]);
}

/** An agent program of test/agents as its own process under its own uid; its JSON lines (`onEvent` as they come). */
function runAgentProgram(state, program, args, { delegation, onEvent } = {}) {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      [join(root, "dist", "test", "agents", program), "--sidecar-id", state.envoySpiffeId, ...args],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          SPIFFE_ENDPOINT_SOCKET: state.workloadEndpoint,
          ...(delegation ? { WARDEN_DELEGATION: delegation } : {}),
        },
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
        onEvent?.(event);
      }
    });
    child.stderr.on("data", (chunk) => (errors += chunk));
    child.on("exit", () => done({ events, errors }));
  });
}

/** The control-plane API as a user's browser or script calls it. */
async function api(state, method, path, { token, body, headers = {} } = {}) {
  const res = await fetch(new URL(path, state.controlPlaneUrl), {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
    redirect: "manual",
  });
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

function codeOf(body) {
  try {
    return JSON.parse(body).error?.code;
  } catch {
    return undefined;
  }
}

/** A Vault admin registers Warden's OAuth client for Drive (warden/providers/google-drive). */
async function storeDriveClient(state) {
  const port = state.components.find((c) => c.name === "openbao")?.ports.https;
  const files = openBaoFiles(join(home, "openbao"), port);
  const bao = new BaoClient(files.address, files.caFile);
  try {
    await bao.must("POST", "warden/data/providers/google-drive", readRootToken(files), {
      data: { client_id: DRIVE_CLIENT.clientId, client_secret: DRIVE_CLIENT.clientSecret },
    });
  } finally {
    bao.close();
  }
}

/**
 * The user's browser: start the flow (the binding cookie is set), consent at the provider, land on
 * the callback with the cookie, see which provider account is being linked, confirm.
 */
async function connectDrive(state, token) {
  const started = await api(state, "POST", "/v1/connections/google-drive/authorize", {
    token,
    body: { scopes: ["google-drive:read"] },
  });
  if (started.status !== 201) return started;
  const cookie = (started.headers.get("set-cookie") ?? "").split(";")[0];
  const consent = await fetch(started.body.authorization_url, { redirect: "manual" });
  const callback = consent.headers.get("location");
  if (consent.status !== 302 || !callback) return { status: consent.status, body: undefined };
  const landed = await fetch(callback, { headers: { cookie }, redirect: "manual" });
  const pending = await landed.json();
  if (landed.status !== 200 || !pending.confirm_url) return { status: landed.status, body: pending };
  console.log(
    `  the browser is shown: link ${pending.account?.email ?? "?"} to ${pending.user_id}? (confirmed)`,
  );
  const done = await api(state, "POST", pending.confirm_url, { token, headers: { cookie } });
  return { ...done, account: pending.account?.email };
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
    // The policy's tiers allow Drive reads to the engineering team (policies/data.json).
    "--team",
    "engineering",
    "--capabilities",
    "llm:chat",
    "--capabilities",
    "google-drive:read",
  ]);
  check(added.code === 0, "warden agent add");
  const attestationId = /KYA submitted: (\S+)/.exec(added.stdout)?.[1];
  const agentId = /registered: ([^,\s]+)/.exec(added.stdout)?.[1];

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
    (
      await warden([
        "kya",
        "approve",
        attestationId ?? "-",
        "--level",
        "2",
        "--capability",
        "llm:chat",
        "--capability",
        "google-drive:read",
      ])
    ).code === 0,
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
  const streamed = usage.find((row) => row.stream);
  check(
    streamed !== undefined && streamed.input_tokens > 0 && streamed.output_tokens > 0,
    "the streamed call's usage is the provider's own count (its last chunk)",
  );

  say(
    "d. a user connects their Google Drive (OAuth code + PKCE, the tokens go to OpenBao) and lets the agent read it",
  );
  await storeDriveClient(state);
  console.log("  a Vault admin stored Warden's OAuth client for Drive at warden/providers/google-drive");
  check((await warden(["login", "--user", "user"])).code === 0, "user login");
  const userToken = readFileSync(cliTokenFile(home), "utf8").trim();
  const linked = await connectDrive(state, userToken);
  console.log(
    `  connected: ${linked.body?.service} for ${linked.body?.user_id} (${linked.account ?? "?"}), status ${linked.body?.status}, scopes ${JSON.stringify(linked.body?.scopes)}`,
  );
  check(linked.status === 200 && linked.body?.status === "active", "Drive account connected");
  // --json: the demo hands the token to the agent; it is not printed here.
  const grantRun = await warden(
    [
      "delegations",
      "grant",
      "--agent",
      agentId ?? "-",
      "--scope",
      "google-drive:read",
      "--ttl",
      "1h",
      "--json",
    ],
    "",
    { echo: false },
  );
  let granted = {};
  try {
    granted = JSON.parse(grantRun.stdout);
  } catch {
    console.log(`    ${grantRun.stderr.trim()}`);
  }
  const delegationId = granted.delegation?.id;
  console.log(
    `  delegation ${delegationId ?? "(none)"}: ${granted.delegation?.scopes?.join(" ") ?? "-"} until ${granted.delegation?.expires_at ?? "-"}; a signed token (${String(granted.token ?? "").length} characters) handed to the agent`,
  );
  await warden(["delegations", "list"]);
  check(grantRun.code === 0 && delegationId, "delegation granted");
  const driveUrl = `${state.agentUrl}/google-drive/drive/v3/files`;
  const delegation = granted.token;
  let drive;
  for (let attempt = 0; attempt < 20; attempt += 1) {
    run = await runAgentProgram(state, "example-agent.js", ["--url", driveUrl, "--count", "1"], {
      delegation,
    });
    drive = run.events.find((e) => e.event === "response");
    if (drive?.status === 200) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const driveSaw = provider.requests.at(-1);
  const userBearer = driveSaw ? provider.bearerOf(driveSaw) : null;
  console.log(`  GET ${driveUrl} with x-warden-delegation: ${drive?.status ?? "-"} ${drive?.body ?? ""}`);
  console.log(
    `  Drive saw: ${userBearer ? "the user's access token from OpenBao" : String(driveSaw?.headers.authorization)}; x-warden-delegation ${driveSaw?.headers["x-warden-delegation"] === undefined ? "removed" : "LEAKED"}`,
  );
  check(
    drive?.status === 200 && userBearer !== null && driveSaw?.headers["x-warden-delegation"] === undefined,
    "the agent read Drive with the user's token",
  );

  say("e. the user revokes the delegation while the agent keeps calling (every 20 ms)");
  let revokeStartedAt = 0;
  let revokedAt = 0;
  let revoking;
  run = await runAgentProgram(
    state,
    "example-agent.js",
    ["--url", driveUrl, "--duration-ms", "2500", "--interval-ms", "20"],
    {
      delegation,
      onEvent: (event) => {
        if (revoking || event.event !== "response" || event.status !== 200) return;
        revokeStartedAt = Date.now();
        revoking = warden([
          "delegations",
          "revoke",
          delegationId,
          "--reason",
          "the user changed their mind",
        ]).then((answer) => ((revokedAt = Date.now()), answer));
      },
    },
  );
  const revoked = await revoking;
  const responses = run.events.filter((e) => e.event === "response");
  const firstDenied = responses.find((e) => e.status !== 200);
  const deniedCode = firstDenied?.body ? codeOf(firstDenied.body) : undefined;
  const allowedAfter = responses.filter((e) => e.status === 200 && e.sent_at >= revokedAt).length;
  // The revocation commits while the CLI runs: a refusal can come before the command has exited.
  const latencyMs = firstDenied ? firstDenied.sent_at + firstDenied.ms - revokedAt : NaN;
  console.log(
    `  ${responses.length} calls; \`warden delegations revoke\` took ${revokedAt - revokeStartedAt} ms; the first refusal (${firstDenied?.status ?? "-"} ${deniedCode ?? "-"}) came ${latencyMs <= 0 ? `${Math.round(-latencyMs)} ms before it returned` : `${Math.round(latencyMs)} ms after it returned`}; ${allowedAfter} call(s) allowed after it returned`,
  );
  check(revoked?.code === 0, "delegation revoked");
  check(
    firstDenied?.status === 403 && deniedCode === "delegation_revoked" && latencyMs < 1000,
    "refused with delegation_revoked within a second",
  );
  check(
    responses.slice(responses.indexOf(firstDenied)).every((e) => e.status === 403),
    "every call after the first refusal refused",
  );

  say("f. usage and cost, the audit trail, and its hash chain verified");
  check((await warden(["login"])).code === 0, "admin login");
  check((await warden(["usage", "--group-by", "agent,model"])).code === 0, "warden usage");
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
  await provider.close();
  dispatcher.closeAllConnections();
  await new Promise((done) => dispatcher.close(done));
  rmSync(catalogueDir, { recursive: true, force: true });
}
console.log(failures === 0 ? "\ndemo: all good" : `\ndemo: ${failures} step(s) did not behave as expected`);
process.exit(failures === 0 ? 0 : 1);
