import { agentEvents, ensureAgentsBuilt, startExampleAgent } from "../agents/run-agent.js";
import { sleep, stopAll, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startSpire, type SpireStack } from "../harness/spire.js";
import { startStack, type Stack } from "../harness/stack.js";

/**
 * With a 60 s SVID TTL, an agent sends steady requests through the
 * sidecar for 3 minutes while every certificate (agent, Envoy, authz-server, extproc-server) rotates,
 * and not one request fails. Takes ~3.5 minutes: runs only with WARDEN_LONG_TESTS=1.
 * Policy: the skeleton fixture (allows GET on the openai destination); identity is still verified.
 */
const LONG = process.env.WARDEN_LONG_TESTS === "1";
const RUN_MS = Number(process.env.WARDEN_ROTATION_MS ?? 180_000);
const AGENT = "spiffe://warden.local/agent/steady-bot";
const AGENT_UID = 10110;

let spire: SpireStack;
let stack: Stack;

(LONG ? describe : describe.skip)("SVID rotation under steady load (WARDEN_LONG_TESTS=1)", () => {
  beforeAll(async () => {
    ensureAgentsBuilt();
    spire = await startSpire({ name: "rotation-spire", svidTtl: "60s", logLevel: "INFO" });
    await spire.register(AGENT, [`unix:uid:${AGENT_UID}`]);
    stack = await startStack({ name: "rotation", spire });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await spire?.stop();
    await stopAll();
  }, TEARDOWN_TIMEOUT_MS);

  /** Serials of Envoy's own SVID, read from its admin /certs. */
  async function envoySerials(): Promise<string[]> {
    const body = (await (await fetch(`${stack.envoy.adminUrl}/certs`)).json()) as {
      certificates?: { cert_chain?: { serial_number?: string; subject_alt_names?: { uri?: string }[] }[] }[];
    };
    return (body.certificates ?? [])
      .flatMap((c) => c.cert_chain ?? [])
      .filter((c) => c.subject_alt_names?.some((san) => san.uri === stack.identities!.envoy))
      .map((c) => c.serial_number ?? "");
  }

  const svidUpdates = (log: string) =>
    log.split("\n").filter((line) => line.includes('"msg":"SVID updated"')).length;

  it(
    "every certificate rotates at least twice and no request fails",
    async () => {
      const agent = startExampleAgent({
        name: "rotation-steady-bot",
        uid: AGENT_UID,
        endpoint: spire.endpoint,
        url: `${stack.agentUrl}/openai/v1/models`,
        sidecarId: stack.identities!.envoy,
        durationMs: RUN_MS,
        intervalMs: 100,
      });
      const envoyCerts = new Set<string>();
      while (agent.running) {
        for (const serial of await envoySerials()) envoyCerts.add(serial);
        await sleep(2_000);
      }
      expect(await agent.waitForExit()).toBe(0);
      const events = agentEvents(agent);
      const summary = events.find((e) => e.event === "summary") as
        | {
            requests: number;
            failures: number;
            statuses: Record<string, number>;
            client_svids: string[];
            server_certificates: string[];
          }
        | undefined;
      const latencies = events
        .filter((e) => e.event === "response")
        .map((e) => Number(e.ms))
        .sort((a, b) => a - b);
      const figures = {
        requests: summary?.requests,
        failures: summary?.failures,
        statuses: summary?.statuses,
        agent_svids: summary?.client_svids.length,
        envoy_certs_seen_by_agent: summary?.server_certificates.length,
        envoy_certs_in_admin: envoyCerts.size,
        authz_svid_updates: svidUpdates(stack.authz.process().log()),
        extproc_svid_updates: svidUpdates(stack.extproc.process().log()),
        latency_ms_p50: latencies[Math.floor(latencies.length * 0.5)],
        latency_ms_p99: latencies[Math.floor(latencies.length * 0.99)],
        latency_ms_max: latencies.at(-1),
      };
      process.stdout.write(`svid rotation figures: ${JSON.stringify(figures)}\n`);

      expect(summary?.failures).toBe(0);
      expect(summary?.requests).toBeGreaterThan(RUN_MS / 1_000);
      // First SVID plus at least two rotations, for every certificate on the path.
      expect(summary?.client_svids.length).toBeGreaterThanOrEqual(3);
      expect(envoyCerts.size).toBeGreaterThanOrEqual(3);
      expect(figures.authz_svid_updates).toBeGreaterThanOrEqual(3);
      expect(figures.extproc_svid_updates).toBeGreaterThanOrEqual(3);
    },
    RUN_MS + 60_000,
  );
});
