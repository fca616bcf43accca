import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest, type Agent as HttpsAgent } from "node:https";
import { stopAll } from "../../../test/harness/process.js";
import { startMcpEnvironment, type McpEnvironment } from "../../../test/support/mcp-environment.js";
import { runOpenLoop } from "../open-loop.js";
import { pooled, type LoadResult } from "../rounds.js";
import { Recorder, type Json, type SuiteRun } from "../results.js";

/**
 * MCP `tools/call` at a constant arrival rate (open loop, bench/src/open-loop.ts): straight to the
 * MCP server (the official TypeScript SDK's Streamable HTTP server, test/stubs/mcp-files-server.ts)
 * vs through the agent's sidecar (mTLS with the agent's SPIRE SVID, Envoy → authz-server with the
 * shipped policy and the server's tool rules → extproc-server → the server) vs through the agent's
 * sidecar and then the server's inbound sidecar (its own Envoy, authz-server and extproc-server,
 * the agent vouched for in XFCC). The whole governed
 * environment is real (test/support/mcp-environment.ts). Each variant keeps one MCP session
 * (initialize once, then every call carries Mcp-Session-Id), as an SDK client does. Rounds alternate
 * between the variants; percentiles are over all rounds' requests.
 *
 * `--smoke`: one short round each, nothing saved (a quick check that the path works under load).
 */
export const MCP_RPS = 200;
const ROUNDS = 3;
const ROUND_S = Number(process.env.BENCH_MCP_ROUND_S ?? 10);
const SMOKE_ROUND_S = 2;
const WARMUP_S = 2;

type Variant = "direct" | "outbound" | "outbound+inbound";
const VARIANTS: Variant[] = ["direct", "outbound", "outbound+inbound"];

interface Target {
  url: URL;
  agent: HttpAgent | HttpsAgent;
  headers: Record<string, string>;
}

const CALL_BODY = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "tools/call",
  params: { name: "read_file", arguments: { path: "readme.md" } },
});

function post(
  target: Target,
  body: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; text: string; res: IncomingMessage }> {
  const send = target.url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target.url,
      {
        method: "POST",
        agent: target.agent,
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...target.headers,
          ...extra,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), res }),
        );
        res.on("error", reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

/** initialize + notifications/initialized; the session's headers for every later call. */
async function openSession(target: Target): Promise<Target> {
  const init = await post(
    target,
    JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "bench", version: "1" },
      },
    }),
  );
  const session = init.res.headers["mcp-session-id"];
  if (init.status !== 200 || typeof session !== "string")
    throw new Error(`initialize: ${init.status} ${init.text.slice(0, 300)}`);
  const headers = { ...target.headers, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" };
  const ready = await post(
    { ...target, headers },
    JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  );
  if (ready.status !== 202) throw new Error(`notifications/initialized: ${ready.status} ${ready.text}`);
  return { ...target, headers };
}

/** One tools/call; a JSON-RPC error in a 200 answer counts as an error (599). */
async function callOnce(target: Target): Promise<number> {
  const answer = await post(target, CALL_BODY);
  if (answer.status !== 200) return answer.status;
  return answer.text.includes('"result"') && !answer.text.includes('"error"') ? 200 : 599;
}

function fields(result: LoadResult): Record<string, Json> {
  return {
    target_rps: MCP_RPS,
    achieved_rps: result.achieved_rps,
    requests: result.requests,
    errors: result.errors,
    statuses: { ...result.statuses },
    latency: { ...result.latency },
  };
}

export async function mcpSuite(options: { smoke?: boolean } = {}): Promise<SuiteRun> {
  const roundS = options.smoke ? SMOKE_ROUND_S : ROUND_S;
  const rounds = options.smoke ? 1 : ROUNDS;
  const recorder = new Recorder("mcp");
  Object.assign(recorder.settings, {
    rps: MCP_RPS,
    rounds,
    round_s: roundS,
    warmup_s: WARMUP_S,
    load: "open loop, constant arrival rate, latency from each request's due time",
    request: "tools/call read_file in an MCP session (2025-11-25), TypeScript SDK server, SSE answer",
  });
  let mcp: McpEnvironment | undefined;
  try {
    mcp = await startMcpEnvironment("bench-mcp", { inbound: true });
    const targets = new Map<Variant, Target>();
    targets.set(
      "direct",
      await openSession({
        url: new URL(mcp.files.url),
        agent: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
        headers: {},
      }),
    );
    const governed: [Variant, string][] = [
      ["outbound", mcp.routeUrl("files")],
      ["outbound+inbound", mcp.inbound!.chainUrl],
    ];
    for (const [variant, url] of governed) {
      // The tool rules reach authz-server through the registry feed: wait for the first allowed call.
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          const session = await openSession({ url: new URL(url), agent: mcp.tls, headers: {} });
          if ((await callOnce(session)) === 200) {
            targets.set(variant, session);
            break;
          }
        } catch (error) {
          if (Date.now() > deadline) throw error;
        }
        if (Date.now() > deadline) throw new Error(`${variant}: tools/call read_file was never allowed`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    for (const variant of VARIANTS) {
      const warm = await runOpenLoop({
        rps: MCP_RPS,
        durationS: WARMUP_S,
        send: () => callOnce(targets.get(variant)!),
      });
      if (warm.errors > 0)
        throw new Error(`mcp ${variant}: warm-up answered ${JSON.stringify(warm.statuses)}`);
    }
    const runs = new Map<Variant, LoadResult[]>();
    for (let round = 0; round < rounds; round++) {
      for (const variant of VARIANTS) {
        const result = await runOpenLoop({
          rps: MCP_RPS,
          durationS: roundS,
          send: () => callOnce(targets.get(variant)!),
        });
        recorder.record(variant, { mode: "round", round, ...fields(result) });
        runs.set(variant, [...(runs.get(variant) ?? []), result]);
      }
    }
    const all = new Map(VARIANTS.map((variant) => [variant, pooled(runs.get(variant) ?? [])]));
    for (const [variant, result] of all)
      recorder.record(variant, { mode: "rate", rounds, ...fields(result) });
    const at = (variant: Variant, field: "p50_ms" | "p99_ms") => all.get(variant)?.latency[field];
    const added = (variant: Variant, field: "p50_ms" | "p99_ms") => {
      const value = at(variant, field);
      const base = at("direct", field);
      return value === undefined || base === undefined ? null : Math.round((value - base) * 1000) / 1000;
    };
    return await recorder.finish(
      {
        rps: MCP_RPS,
        p50_ms_direct: at("direct", "p50_ms") ?? null,
        p99_ms_direct: at("direct", "p99_ms") ?? null,
        p50_ms_outbound: at("outbound", "p50_ms") ?? null,
        p99_ms_outbound: at("outbound", "p99_ms") ?? null,
        p50_ms_chain: at("outbound+inbound", "p50_ms") ?? null,
        p99_ms_chain: at("outbound+inbound", "p99_ms") ?? null,
        added_p50_ms_outbound: added("outbound", "p50_ms"),
        added_p99_ms_outbound: added("outbound", "p99_ms"),
        added_p50_ms_chain: added("outbound+inbound", "p50_ms"),
        added_p99_ms_chain: added("outbound+inbound", "p99_ms"),
        errors: [...all.values()].reduce((sum, result) => sum + result.errors, 0),
      },
      !options.smoke,
    );
  } finally {
    await mcp?.stop();
    await stopAll();
  }
}
