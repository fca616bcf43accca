import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
import { makeCertificate } from "../../lib/src/spiffe/testing/certificates.js";
import { agentEvents, ensureAgentsBuilt, startExampleAgent, type AgentEvent } from "../agents/run-agent.js";
import { approvedAgent, registrySnapshot } from "../harness/registry-snapshot.js";
import { REPO_ROOT, sleep, stopAll, toolPath, waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { currentProcessSelector, startSpire, type SpireStack } from "../harness/spire.js";
import { startStack, type Stack } from "../harness/stack.js";
import { CHAT_BODY } from "../support/chat-request.js";

/**
 * Against a real SPIRE server and agent and the real Envoy: agents, Envoy,
 * authz-server and extproc-server each run under their own uid and get their SVIDs from the SPIRE
 * agent (Envoy over SDS, the rest over the Workload API). The real policy (policies/) decides, with a
 * registry snapshot in which research-bot is an approved agent.
 */

const TD = "warden.local";
const RESEARCH_BOT = `spiffe://${TD}/agent/research-bot`;
const STRANGER = `spiffe://${TD}/agent/stranger`; // has an SVID, but no Warden registration
const INTRUDER = `spiffe://${TD}/agent/intruder`; // the test process itself (uid 0)
const PARTNER_HELPER = "spiffe://partner.example/agent/helper"; // a real SVID of another SPIRE deployment
const UIDS = { researchBot: 10100, stranger: 10101 };

let spire: SpireStack;
/** A second, unrelated SPIRE deployment (trust domain partner.example): the source of foreign SVIDs. */
let partner: SpireStack;
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
  partner = await startSpire({ name: "mtls-e2e-partner", trustDomain: "partner.example", logLevel: "INFO" });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await spire?.stop();
  await partner?.stop();
  await stopAll();
  if (work) rmSync(work, { recursive: true, force: true });
}, TEARDOWN_TIMEOUT_MS);

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
    // authz-server verified the identity from the certificate, and Envoy logs the verified identity
    // (the access log is flushed asynchronously: wait for the line).
    await waitFor("access log line of the allowed request", () =>
      stack.envoy.accessLog().some((line) => line.status === 200 && line.agent === RESEARCH_BOT),
    );
    // The decision line is written after the answer, asynchronously: wait for it too.
    await waitFor("authz-server's decision line naming the agent", () =>
      /"agent":"spiffe:\/\/warden\.local\/agent\/research-bot"/.test(stack.authz.process().log()),
    );
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

/** A CA of our own (not SPIRE's) and a leaf with the given SANs, through the real openssl. */
function foreignCertificate(sans: { uris?: string[]; dnsNames?: string[] }): { cert: string; key: string } {
  const ca = makeCertificate({ subject: "/CN=not SPIRE", ca: true });
  const leaf = makeCertificate({ subject: "/O=SPIRE", issuer: ca, ...sans });
  return { cert: leaf.certPem, key: leaf.keyPem };
}

/**
 * An X.509-SVID signed by a real SPIRE server's CA (`spire-server x509 mint`), for any ID of that
 * server's trust domain, registered or not, with the TTL we choose.
 */
function mintSvid(server: SpireStack, spiffeId: string, ttl: string): { cert: string; key: string } {
  const dir = mkdtempSync(join(work, "mint-"));
  execFileSync(
    toolPath("spire-server"),
    [
      "x509",
      "mint",
      "-socketPath",
      server.serverSocketPath,
      "-spiffeID",
      spiffeId,
      "-ttl",
      ttl,
      "-write",
      dir,
    ],
    { stdio: "pipe", timeout: 10_000 },
  );
  return {
    cert: readFileSync(join(dir, "svid.pem"), "utf8"),
    key: readFileSync(join(dir, "key.pem"), "utf8"),
  };
}

/** Calls the sidecar with `clientCert`, expecting a 401 JSON refusal that reached no provider. */
async function expectRefused(
  clientCert: { cert: string; key: string } | undefined,
  status: number,
  code: string,
): Promise<void> {
  const before = stack.upstream.requests.length;
  const response = await callSidecar(clientCert);
  expect({ status: response.status, body: JSON.parse(response.body) as unknown }).toMatchObject({
    status,
    body: { error: { code, decision_id: expect.any(String) } },
  });
  expect(stack.upstream.requests.length).toBe(before);
}

describe("the sidecar refuses callers without a valid, trusted SVID with a 401 JSON that says why", () => {
  // Envoy lets every handshake complete (ACCEPT_UNTRUSTED, client certificate optional) and forwards
  // the certificate to authz-server, which verifies it against the bundles of its own Workload API
  // stream and refuses before the policy runs. So the agent reads a reason, not a TLS alert.
  it("no client certificate: 401 identity_missing", async () => {
    await expectRefused(undefined, 401, "identity_missing");
  });

  it("a registered agent's SPIFFE ID on a certificate from another CA: 401 certificate_untrusted", async () => {
    await expectRefused(foreignCertificate({ uris: [RESEARCH_BOT] }), 401, "certificate_untrusted");
  });

  it("a real SVID from another SPIRE deployment (trust domain partner.example): 401 trust_domain_untrusted", async () => {
    // authz-server holds no bundle for partner.example (no federation), so it is the trust domain,
    // before any signature, that is refused. (A foreign trust domain's ID signed by OUR CA cannot be
    // made: SPIRE only signs IDs of its own trust domain.)
    await expectRefused(mintSvid(partner, PARTNER_HELPER, "5m"), 401, "trust_domain_untrusted");
  });

  it("a SPIRE-signed SVID that has expired: 401 certificate_expired", async () => {
    const expired = mintSvid(spire, RESEARCH_BOT, "1s");
    const notAfter = Date.parse(new X509Certificate(expired.cert).validTo);
    await sleep(Math.max(0, notAfter - Date.now()) + 1_100);
    await expectRefused(expired, 401, "certificate_expired");
  });

  it("a certificate with no SPIFFE ID (a plain client certificate): 401 certificate_invalid", async () => {
    await expectRefused(foreignCertificate({ dnsNames: ["client.example"] }), 401, "certificate_invalid");
  });

  it("a valid SVID of our trust domain with no Warden registration: 401 agent_unregistered", async () => {
    await expectRefused(
      mintSvid(spire, `spiffe://${TD}/agent/never-registered`, "5m"),
      401,
      "agent_unregistered",
    );
  });

  it("refused callers leave no identity in the access log; the registered agent's SVID still passes", async () => {
    const refusedLines = () => stack.envoy.accessLog().filter((line) => line.status === 401);
    await waitFor("access log lines of the refusals", () => refusedLines().length >= 7);
    for (const line of refusedLines()) expect(line.agent).toBeNull();

    const before = stack.upstream.requests.length;
    const ok = await callSidecar(mintSvid(spire, RESEARCH_BOT, "5m"));
    expect(ok.status).toBe(200);
    expect(stack.upstream.requests.length).toBe(before + 1);
  });

  it("the intruder's SPIRE-issued SVID (a valid workload, not an agent) is refused by the policy", async () => {
    await expectRefused(
      { cert: intruderSvid.certChainPem, key: intruderSvid.keyPem },
      401,
      "agent_unregistered",
    );
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
