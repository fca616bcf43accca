import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  credentials,
  makeGenericClientConstructor,
  status as GrpcStatus,
  type Client,
  type ServiceError,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import type { X509SvidUpdate } from "../../lib/src/spiffe/svid-update.js";
import { agentEvents, ensureAgentsBuilt, startExampleAgent, type AgentEvent } from "../agents/run-agent.js";
import { approvedAgent, registrySnapshot } from "../harness/registry-snapshot.js";
import { REPO_ROOT, stopAll } from "../harness/process.js";
import { currentProcessSelector, startSpire, type SpireStack } from "../harness/spire.js";
import { startStack, type Stack } from "../harness/stack.js";

/**
 * Issue 3, mTLS everywhere, against a real SPIRE server and agent and the real Envoy: agents, Envoy,
 * authz-server and extproc-server each run under their own uid and get their SVIDs from the SPIRE
 * agent (Envoy over SDS, the rest over the Workload API). The real policy (policies/) decides, with a
 * registry snapshot in which research-bot is an approved agent.
 */

const TD = "warden.local";
const RESEARCH_BOT = `spiffe://${TD}/agent/research-bot`;
const STRANGER = `spiffe://${TD}/agent/stranger`; // has an SVID, but no Warden registration
const INTRUDER = `spiffe://${TD}/agent/intruder`; // the test process itself (uid 0)
const UIDS = { researchBot: 10100, stranger: 10101 };
const CHAT_BODY = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });

let spire: SpireStack;
let stack: Stack;
let work: string;
let intruderSvid: X509SvidUpdate;

beforeAll(async () => {
  ensureAgentsBuilt();
  work = mkdtempSync(join(tmpdir(), "wmtls-"));
  chmodSync(work, 0o755);
  const registry = join(work, "registry.json");
  writeFileSync(
    registry,
    registrySnapshot(
      approvedAgent({
        name: "research-bot",
        spiffeId: RESEARCH_BOT,
        attestationId: "att-research-bot",
        issuedAtNs: (Date.now() - 60_000) * 1e6,
        expiresAtNs: (Date.now() + 86_400_000) * 1e6,
      }),
    ),
  );
  chmodSync(registry, 0o644);

  spire = await startSpire({ name: "mtls-e2e-spire", trustDomain: TD, logLevel: "INFO" });
  await spire.register(RESEARCH_BOT, [`unix:uid:${UIDS.researchBot}`]);
  await spire.register(STRANGER, [`unix:uid:${UIDS.stranger}`]);
  await spire.register(INTRUDER, [currentProcessSelector()]);
  stack = await startStack({
    name: "mtls-e2e",
    spire,
    policyDir: join(REPO_ROOT, "policies"),
    authzEnv: { WARDEN_REGISTRY_FILE: registry },
  });
  intruderSvid = await spire.waitForSvid(INTRUDER);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await spire?.stop();
  await stopAll();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

const chatUrl = () => `${stack.agentUrl}/openai/v1/chat/completions`;

async function runAgent(name: string, uid: number): Promise<AgentEvent[]> {
  const agent = startExampleAgent({
    name: `mtls-e2e-${name}`,
    uid,
    endpoint: spire.endpoint,
    url: chatUrl(),
    sidecarId: stack.identities!.envoy,
    count: 1,
    intervalMs: 0,
    body: CHAT_BODY,
  });
  const code = await agent.waitForExit();
  const events = agentEvents(agent);
  if (code !== 0) throw new Error(`agent ${name} exited ${code}: ${agent.log().slice(-2000)}`);
  return events;
}

describe("an agent calling through the sidecar with its SVID", () => {
  it("a registered, approved agent gets an SVID and its request reaches the provider", async () => {
    const before = stack.upstream.requests.length;
    const events = await runAgent("research-bot", UIDS.researchBot);
    expect(events.find((e) => e.event === "svid")?.spiffe_id).toBe(RESEARCH_BOT);
    const response = events.find((e) => e.event === "response");
    expect(response?.status).toBe(200);
    expect(stack.upstream.requests.length).toBe(before + 1);
    // Envoy read the identity from the certificate, and the decision was made on it.
    const logged = stack.envoy.accessLog().at(-1);
    expect(logged?.agent).toBe(RESEARCH_BOT);
    expect(stack.authz.process().log()).toMatch(/"agent":"spiffe:\/\/warden\.local\/agent\/research-bot"/);
  });

  it("an agent with a valid SVID but no Warden registration is refused with 401 agent_unregistered", async () => {
    const before = stack.upstream.requests.length;
    const events = await runAgent("stranger", UIDS.stranger);
    const response = events.find((e) => e.event === "response");
    expect(response?.status).toBe(401);
    expect(JSON.parse(String(response?.body))).toMatchObject({ error: { code: "agent_unregistered" } });
    expect(stack.upstream.requests.length).toBe(before);
  });
});

/** One HTTPS request to the sidecar with the given client certificate (or none). */
function callSidecar(clientCert?: { cert: string; key: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      chatUrl(),
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        // This checks the sidecar's refusal, not the client's check of the sidecar.
        rejectUnauthorized: false,
        ...clientCert,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(CHAT_BODY);
  });
}

/** A CA of our own (not SPIRE's) and a leaf with the given URI SAN, through the real openssl. */
function foreignSvid(name: string, spiffeId: string): { cert: string; key: string } {
  const dir = join(work, name);
  execFileSync("mkdir", ["-p", dir]);
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  run([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    `/CN=${name} CA`,
    "-addext",
    "basicConstraints=critical,CA:true",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  run(["req", ...ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/O=SPIRE"]);
  writeFileSync(
    join(dir, "ext.cnf"),
    `subjectAltName=URI:${spiffeId}\nbasicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n`,
  );
  run([
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "leaf.pem",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  ]);
  return {
    cert: readFileSync(join(dir, "leaf.pem"), "utf8"),
    key: readFileSync(join(dir, "leaf.key"), "utf8"),
  };
}

const listenerStat = (stat: string) => stack.envoy.stat(`listener.127.0.0.1_${stack.agentPort}.ssl.${stat}`);

describe("the sidecar refuses callers without a SPIRE-issued SVID at the TLS handshake", () => {
  // Envoy requires a client certificate chaining to the SPIRE bundle (SDS), so these never become
  // HTTP requests: there is no 401 to send, the connection is refused and nothing reaches authz or
  // the provider. Envoy's TLS statistics say why.
  it("a request without a client certificate is refused", async () => {
    const before = {
      noCert: await listenerStat("fail_verify_no_cert"),
      upstream: stack.upstream.requests.length,
    };
    await expect(callSidecar()).rejects.toThrow();
    expect(await listenerStat("fail_verify_no_cert")).toBe(before.noCert + 1);
    expect(stack.upstream.requests.length).toBe(before.upstream);
  });

  it("a certificate for a registered agent's SPIFFE ID, but from another CA, is refused", async () => {
    const before = await listenerStat("fail_verify_error");
    await expect(callSidecar(foreignSvid("rogue", RESEARCH_BOT))).rejects.toThrow();
    expect(await listenerStat("fail_verify_error")).toBe(before + 1);
  });

  it("a certificate from another trust domain is refused", async () => {
    // No federation is configured, so Envoy's bundle holds warden.local only. authz-server's own
    // check (401 trust_domain_untrusted) is the second line: authz-server/src/peer-certificate.test.ts.
    const before = await listenerStat("fail_verify_error");
    await expect(
      callSidecar(foreignSvid("partner", "spiffe://partner.example/agent/helper")),
    ).rejects.toThrow();
    expect(await listenerStat("fail_verify_error")).toBe(before + 1);
  });

  it("the agent's SVID still works after those refusals (sanity check of the negative tests)", async () => {
    const ok = await callSidecar({ cert: intruderSvid.certChainPem, key: intruderSvid.keyPem });
    // The intruder is a valid workload but not a registered agent: the policy, not TLS, refuses it.
    expect(ok.status).toBe(401);
    expect(JSON.parse(ok.body)).toMatchObject({ error: { code: "agent_unregistered" } });
  });
});

const HealthClient = makeGenericClientConstructor(healthService, "grpc.health.v1.Health");
interface HealthCheckClient extends Client {
  check(
    request: { service: string },
    options: { deadline: number },
    callback: (error: ServiceError | null, response?: { status?: string }) => void,
  ): void;
}

/** A gRPC call straight to one of our servers, presenting `svid` (or no certificate). */
function callServerDirectly(address: string, svid: X509SvidUpdate | null): Promise<ServiceError | null> {
  const ca = Buffer.from(Object.values(intruderSvid.bundlesPem).join("\n"));
  const creds = svid
    ? credentials.createSsl(ca, Buffer.from(svid.keyPem), Buffer.from(svid.certChainPem), {
        checkServerIdentity: () => undefined,
      })
    : credentials.createSsl(ca, null, null, { checkServerIdentity: () => undefined });
  const client = new HealthClient(address, creds) as unknown as HealthCheckClient;
  return new Promise((resolve) => {
    client.check({ service: "" }, { deadline: Date.now() + 5_000 }, (error) => {
      client.close();
      resolve(error);
    });
  });
}

describe("authz-server and extproc-server answer Envoy only", () => {
  it.each(["authz", "extproc"] as const)(
    "%s refuses a workload with a valid SVID that is not Envoy's (PERMISSION_DENIED)",
    async (server) => {
      const error = await callServerDirectly(stack[server].address, intruderSvid);
      expect(error?.code).toBe(GrpcStatus.PERMISSION_DENIED);
      expect(error?.details).toContain(INTRUDER);
    },
  );

  it.each(["authz", "extproc"] as const)("%s refuses a client without a certificate", async (server) => {
    const error = await callServerDirectly(stack[server].address, null);
    expect(error?.code).toBe(GrpcStatus.UNAVAILABLE);
  });

  it("Envoy reaches both servers over mTLS (the research-bot request above went through both)", async () => {
    expect(await stack.envoy.stat("cluster.warden_authz.ssl.handshake")).toBeGreaterThan(0);
    expect(await stack.envoy.stat("cluster.warden_extproc.ssl.handshake")).toBeGreaterThan(0);
    expect(stack.authz.process().log()).toMatch(/"spiffe_id":"spiffe:\/\/warden\.local\/warden\/authz"/);
    expect(stack.extproc.process().log()).toMatch(/"spiffe_id":"spiffe:\/\/warden\.local\/warden\/extproc"/);
  });
});
