import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { ensureAgentsBuilt } from "../agents/run-agent.js";
import { callApi, type CallOptions } from "../harness/control-plane.js";
import {
  COMPOSE_DIR,
  ComposeProject,
  dockerEnvironment,
  run,
  whyNoEngine,
} from "../harness/docker-compose.js";
import { REPO_ROOT, sleep, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { registryWorkflow, type ControlPlaneApi } from "../harness/registry-workflow.js";
import { startOpenAiStub } from "../stubs/llm-openai.js";
import type { LlmStub } from "../stubs/llm-stub-server.js";

/**
 * The compose stack, for real: compose/docker-compose.yml with compose/docker-compose.local.yml (the
 * images compose/images/build.sh makes from the pinned binaries) on the engine scripts/docker-up
 * runs. From nothing (no container, no volume) to a healthy stack; the example agent, in a container
 * of its own with its SVID from the stack's SPIRE agent, is registered, passes KYA and streams a
 * completion with the tenant's key from OpenBao; then authz-server, extproc-server, PostgreSQL and
 * OpenBao are killed one at a time: requests are refused (never passed unchecked) while each is
 * down, and served again once `docker compose up` has restarted it. Everything is torn down.
 *
 * What the test adds to the user's stack (a third file, written here): host ports chosen by the
 * engine instead of the fixed ones, the LLM provider (a stub on this host behind TLS for
 * api.openai.com, with a relay container answering for that name and Envoy trusting the test CA),
 * the agent's service, secrets from a temporary folder, and a 1 s LLM key cache with no stale use in
 * extproc-server, so OpenBao's absence shows at once instead of after the default 6 minutes.
 */
const env = dockerEnvironment();
const noEngine = whyNoEngine(env);
if (noEngine) process.stdout.write(`compose-stack: SKIPPED, ${noEngine}\n`);
const describeWithEngine = noEngine ? describe.skip : describe;

const PROVIDER_KEY = "sk-compose-held-by-openbao-7d2e";
const AGENT_NAME = "compose-agent";
const AGENT_UID = 20001;
const STREAM_BODY = JSON.stringify({
  model: "gpt-4o-mini",
  stream: true,
  messages: [{ role: "user", content: "hi" }],
});
const SECRETS = {
  "postgres-password": "postgres-password",
  "db-owner-password": "db-owner-password",
  "db-authz-password": "db-authz-password",
  "db-extproc-password": "db-extproc-password",
  "openbao-ca": "openbao-ca.pem",
  "openbao-tls-cert": "openbao-tls-cert.pem",
  "openbao-tls-key": "openbao-tls-key.pem",
  "vault-client-ca": "vault-client-ca.pem",
  "extproc-vault-cert": "extproc-vault-cert.pem",
  "extproc-vault-key": "extproc-vault-key.pem",
  "policy-signing-key": "policy-signing-key.pem",
  "policy-verification-key": "policy-verification-key.pem",
};

// Answers for api.openai.com inside the compose network: every connection to its port 443 is
// relayed to the host (the network's gateway) where the TLS front of the provider stub listens.
const RELAY = [
  'const net = require("node:net");',
  'const fields = require("node:fs").readFileSync("/proc/net/route", "utf8").split("\\n").map((l) => l.split("\\t"));',
  'const hex = fields.find((f) => f[1] === "00000000")[2];',
  'const gateway = hex.match(/../g).reverse().map((h) => parseInt(h, 16)).join(".");',
  "net.createServer((c) => {",
  "  const u = net.connect(Number(process.env.RELAY_PORT), gateway);",
  "  c.pipe(u).pipe(c);",
  "  u.on('error', () => c.destroy()); c.on('error', () => u.destroy());",
  "}).listen(443);",
].join("\n");

let work: string;
let project: ComposeProject;
let provider: LlmStub;
let providerTls: Server;
let apiUrl: string;
const figures: Record<string, unknown> = {};

interface AgentLine {
  event: string;
  status?: number;
  body?: string;
  message?: string;
}

/** Runs the example agent once in its container: its JSON lines. */
async function runAgent(count: number, intervalMs = 200): Promise<AgentLine[]> {
  const out = await project.compose(
    [
      "run",
      "--rm",
      "--no-deps",
      "-T",
      "example-agent",
      "--url",
      "https://envoy:10000/openai/v1/chat/completions",
      "--count",
      String(count),
      "--interval-ms",
      String(intervalMs),
      "--body",
      STREAM_BODY,
      "--print-body",
    ],
    undefined,
    120_000,
  );
  return out.stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as AgentLine);
}

const answers = (lines: AgentLine[]) => lines.filter((l) => l.event === "response" || l.event === "error");
const refusalCode = (line: AgentLine): string => {
  try {
    return (JSON.parse(line.body ?? "") as { error?: { code?: string } }).error?.code ?? "";
  } catch {
    return "";
  }
};

/** Calls until an answer satisfies `done`; the last answers. */
async function agentUntil(what: string, done: (line: AgentLine) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last: AgentLine[] = [];
  while (Date.now() < deadline) {
    last = answers(await runAgent(1));
    if (last.some(done)) return last;
    await sleep(500);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms; last answers: ${JSON.stringify(last)}`);
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { cwd: work, stdio: "pipe" });
}

/** A CA and a certificate for api.openai.com: what the provider stub presents, what Envoy trusts. */
function providerCertificates(): void {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "provider-ca.pem", "-days", "1"].concat([
      "-subj",
      "/CN=compose-test provider CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
    ]),
  );
  openssl(["req", ...ec, "-keyout", "provider.key", "-out", "provider.csr", "-subj", "/CN=api.openai.com"]);
  writeFileSync(
    join(work, "provider.ext"),
    "subjectAltName=DNS:api.openai.com\nextendedKeyUsage=serverAuth\n",
  );
  openssl(
    ["x509", "-req", "-in", "provider.csr", "-CA", "provider-ca.pem", "-CAkey", "ca.key"].concat([
      "-set_serial",
      "2",
      "-days",
      "1",
      "-extfile",
      "provider.ext",
      "-out",
      "provider.pem",
    ]),
  );
  chmodSync(join(work, "provider-ca.pem"), 0o644);
}

function testComposeFile(relayPort: number): string {
  const secrets = Object.entries(SECRETS)
    .map(([name, file]) => `  ${name}:\n    file: ${join(work, "secrets", file)}`)
    .join("\n");
  const published = (service: string, port: number) =>
    `  ${service}:\n    ports: !override ["127.0.0.1::${port}"]`;
  return `services:
  envoy:
    ports: !override ["127.0.0.1::10000"]
    volumes:
      - ${join(work, "provider-ca.pem")}:/etc/ssl/certs/ca-certificates.crt:ro
${published("control-plane", 8081)}
${published("dev-oidc", 8082)}
${published("authz-server", 9101)}
  extproc-server:
    ports: !override ["127.0.0.1::9102"]
    environment:
      WARDEN_LLM_KEY_CACHE_TTL_MS: "1000"
      WARDEN_LLM_KEY_MAX_STALE_MS: "0"
  provider-relay:
    image: agent-warden-local/warden:dev
    user: "0:0"
    entrypoint: ["node", "-e", ${JSON.stringify(RELAY)}]
    environment:
      RELAY_PORT: "${relayPort}"
    networks:
      default:
        aliases: [api.openai.com]
  example-agent:
    image: agent-warden-local/warden:dev
    profiles: [agent]
    user: "${AGENT_UID}:${AGENT_UID}"
    read_only: true
    entrypoint: ["node", "dist/test/agents/example-agent.js"]
    environment:
      SPIFFE_ENDPOINT_SOCKET: unix:///run/spire/agent/public/api.sock
    volumes:
      - spire-agent-socket:/run/spire/agent/public:ro
      - ${join(REPO_ROOT, "dist", "test")}:/app/dist/test:ro
secrets:
${secrets}
`;
}

async function up(): Promise<number> {
  const started = Date.now();
  await project.must(
    ["up", "--detach", "--wait", "--wait-timeout", "300", "--no-build", "--pull", "never"],
    undefined,
    400_000,
  );
  return Date.now() - started;
}

/** A token from the stack's development OIDC issuer (the password grant, as compose/README.md shows). */
async function devToken(user: "admin" | "reviewer"): Promise<string> {
  const accounts = JSON.parse(
    await project.must([
      "exec",
      "-T",
      "dev-oidc",
      "node",
      "-p",
      'JSON.stringify(require("/var/lib/warden/oidc/accounts.json"))',
    ]),
  ) as Record<string, { password: string }>;
  const port = await project.publishedPort("dev-oidc", 8082);
  const response = await fetch(`http://127.0.0.1:${port}/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", username: user, password: accounts[user]!.password }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`no token for ${user}: ${JSON.stringify(body)}`);
  return body.access_token;
}

beforeAll(async () => {
  if (noEngine) return;
  ensureAgentsBuilt();
  let started = Date.now();
  const images = await run(join(COMPOSE_DIR, "images", "build.sh"), [], env, undefined, 900_000);
  if (images.code !== 0) throw new Error(`compose/images/build.sh failed:\n${images.stderr}`);
  figures.imagesMs = Date.now() - started;

  work = mkdtempSync(join(tmpdir(), "wcs-"));
  execFileSync(join(COMPOSE_DIR, "init-secrets.sh"), [join(work, "secrets")], { stdio: "pipe" });
  providerCertificates();
  provider = await startOpenAiStub({ validKeys: () => [PROVIDER_KEY] });
  const tls = {
    key: readFileSync(join(work, "provider.key")),
    cert: readFileSync(join(work, "provider.pem")),
  };
  providerTls = createTlsServer(tls, (socket) => {
    const upstream = connect(provider.port, "127.0.0.1");
    socket.pipe(upstream).pipe(socket);
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  // On every address: the relay container reaches it through the compose network's gateway.
  await new Promise<void>((resolve) => providerTls.listen(0, "0.0.0.0", resolve));
  const relayPort = (providerTls.address() as { port: number }).port;
  writeFileSync(join(work, "test.yml"), testComposeFile(relayPort));

  project = new ComposeProject(
    `warden-compose-${process.pid}`,
    [
      join(COMPOSE_DIR, "docker-compose.yml"),
      join(COMPOSE_DIR, "docker-compose.local.yml"),
      join(work, "test.yml"),
    ],
    env,
  );
  started = Date.now();
  figures.upMs = await up();
  figures.fromNothingMs = Date.now() - started + (figures.imagesMs as number);
  apiUrl = `http://127.0.0.1:${await project.publishedPort("control-plane", 8081)}`;
}, 1_200_000);

afterAll(async () => {
  if (noEngine) return;
  if (project) {
    const logs = await project.compose(["logs", "--no-color", "--tail", "200"]);
    writeFileSync(join(REPO_ROOT, ".run", "compose-stack.log"), logs.stdout + logs.stderr);
    await project.compose(["down", "--volumes", "--remove-orphans", "--timeout", "5"], undefined, 180_000);
  }
  await provider?.close();
  providerTls?.close();
  if (work) rmSync(work, { recursive: true, force: true });
  process.stdout.write(`compose-stack figures: ${JSON.stringify(figures)}\n`);
}, TEARDOWN_TIMEOUT_MS + 180_000);

describeWithEngine("the compose stack on a Docker engine", () => {
  test("comes up from nothing: every service running and healthy, every one-shot job done", async () => {
    const containers = await project.containers();
    const byService = new Map(containers.map((c) => [c.Service, c]));
    for (const job of ["openbao-init", "spire-init", "policy-sign"])
      expect({ job, state: byService.get(job)?.State, code: byService.get(job)?.ExitCode }).toEqual({
        job,
        state: "exited",
        code: 0,
      });
    const healthChecked = [
      "postgres",
      "spire-server",
      "spire-agent",
      "dev-oidc",
      "control-plane",
      "redis",
    ].concat(["authz-server", "extproc-server"]);
    for (const service of healthChecked)
      expect({ service, health: byService.get(service)?.Health }).toEqual({ service, health: "healthy" });
    for (const service of ["openbao", "ratelimit", "envoy"])
      expect({ service, state: byService.get(service)?.State }).toEqual({ service, state: "running" });
    const ready = await fetch(`${apiUrl}/readyz`);
    expect(ready.status).toBe(200);
  });

  test("the example agent is refused until KYA approval, then streams a completion with the key from OpenBao", async () => {
    await project.must(
      ["run", "--rm", "--no-deps", "-T", "openbao-init", "node", "dist/control-plane/src/cli/main.js"]
        .concat(["llm-key", "set", "openai", "--tenant", "acme", "--openbao", "https://openbao:8200"])
        .concat(["--ca-file", "/run/secrets/openbao-ca", "--init-file", "/openbao/keys/init.json"]),
      `${PROVIDER_KEY}\n`,
    );
    await project.must(
      ["exec", "-T", "spire-server", "/opt/spire/bin/spire-server", "entry", "create"]
        .concat(["-socketPath", "/run/spire/server/private/api.sock"])
        .concat(["-parentID", "spiffe://warden.local/node/compose"])
        .concat([
          "-spiffeID",
          `spiffe://warden.local/agent/${AGENT_NAME}`,
          "-selector",
          `unix:uid:${AGENT_UID}`,
        ]),
    );
    const api: ControlPlaneApi = {
      call: <T>(method: string, path: string, options?: CallOptions) =>
        callApi<T>(apiUrl, method, path, options),
    };
    const workflow = registryWorkflow(api, {
      creator: await devToken("admin"),
      reviewer: await devToken("reviewer"),
    });
    const agent = await workflow.register(AGENT_NAME);
    expect(agent.spiffe_id).toBe(`spiffe://warden.local/agent/${AGENT_NAME}`);
    const attestation = await workflow.submit(agent);

    const pending = await agentUntil(
      "a kya_pending refusal",
      (l) => refusalCode(l) === "kya_pending",
      60_000,
    );
    expect(pending.at(-1)?.status).toBe(403);

    await workflow.approve(attestation);
    const served = await agentUntil("the approval to be enforced", (l) => l.status === 200, 60_000);
    const body = served.at(-1)?.body ?? "";
    // Server-sent events through Envoy, ext_authz and ext_proc, ending as OpenAI's stream ends.
    expect(body).toMatch(/^data: \{/m);
    expect(body).toContain("data: [DONE]");
    const last = provider.requests.at(-1);
    expect(last?.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(JSON.parse(last?.body ?? "{}")).toMatchObject({ stream: true, model: "gpt-4o-mini" });
  }, 300_000);

  test.each(["authz-server", "extproc-server", "postgres", "openbao"])(
    "%s killed: no request passes unchecked while it is down, and it is served again once the service is back",
    async (service) => {
      expect(answers(await runAgent(1)).at(-1)?.status).toBe(200);
      const reachedProvider = provider.requests.length;
      const killedAt = Date.now();
      await project.must(["kill", "--signal", "SIGKILL", service]);
      // extproc-server's LLM key cache lasts 1 s here; past it, OpenBao's absence shows.
      if (service === "openbao") await sleep(1_500);
      const gap = answers(await runAgent(3, 300));
      figures[`${service}Gap`] = gap.map((l) =>
        l.event === "error" ? `error ${l.message}` : `${l.status} ${refusalCode(l)}`,
      );
      expect(gap).toHaveLength(3);
      if (service === "postgres") {
        // The data plane holds the registry in memory and spools its audit and usage rows: it goes on.
        for (const line of gap.filter((l) => l.status !== 200))
          expect(JSON.parse(line.body ?? "")).toMatchObject({ error: { code: expect.any(String) } });
      } else {
        // Fail closed: every answer a JSON refusal, and nothing reached the provider.
        for (const line of gap) {
          expect(line.event).toBe("response");
          expect(line.status).not.toBe(200);
          expect(JSON.parse(line.body ?? "")).toMatchObject({ error: { code: expect.any(String) } });
        }
        expect(provider.requests.length).toBe(reachedProvider);
      }
      figures[`${service}UpAgainMs`] = await up();
      await agentUntil(
        `the agent's calls to be served after ${service} came back`,
        (l) => l.status === 200,
        60_000,
      );
      figures[`${service}RecoveryMs`] = Date.now() - killedAt;
    },
    300_000,
  );

  test("docker compose down --volumes leaves no container, volume or network of the project", async () => {
    await project.must(["down", "--volumes", "--remove-orphans", "--timeout", "5"], undefined, 180_000);
    const label = `label=com.docker.compose.project=${project.name}`;
    for (const kind of [
      ["ps", "--all"],
      ["volume", "ls"],
      ["network", "ls"],
    ]) {
      const listed = await run("docker", [...kind, "--quiet", "--filter", label], env);
      expect({ kind: kind[0], listed: listed.stdout.trim() }).toEqual({ kind: kind[0], listed: "" });
    }
  }, 200_000);
});
