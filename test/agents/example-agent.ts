import { parseArgs } from "node:util";
import { WorkloadApiClient } from "../../lib/src/spiffe/workload-client.js";
import { SvidHttpsClient } from "./svid-https-client.js";

/**
 * An example AI agent: a third party from Warden's point of view. It holds no API key; its identity
 * is the X.509-SVID the local SPIRE agent gives its process (SPIFFE_ENDPOINT_SOCKET), and it calls
 * providers through the Warden sidecar with mTLS, picking up rotated SVIDs as they come.
 *
 *   example-agent --url https://127.0.0.1:<port>/openai/v1/chat/completions
 *                 [--sidecar-id spiffe://warden.local/warden/envoy] [--count 1 | --duration-ms N]
 *                 [--interval-ms 100] [--body '{"model":"gpt-4o-mini",...}'] [--print-body]
 *
 * A delegation token in WARDEN_DELEGATION (not on the command line, where other users could see it)
 * goes with every request as `x-warden-delegation`.
 *
 * Prints one JSON line per request (`{"event":"response",...}`, with the body of a refusal, or of
 * every answer with --print-body) and a summary (`{"event":"summary",...}`).
 */
const { values } = parseArgs({
  options: {
    url: { type: "string" },
    "sidecar-id": { type: "string", default: "spiffe://warden.local/warden/envoy" },
    count: { type: "string" },
    "duration-ms": { type: "string" },
    "interval-ms": { type: "string", default: "100" },
    body: { type: "string" },
    "print-body": { type: "boolean", default: false },
  },
});
if (!values.url) {
  process.stderr.write("example-agent: --url is required\n");
  process.exit(64);
}
const url = values.url;
const count = values.count === undefined ? undefined : Number(values.count);
const durationMs = values["duration-ms"] === undefined ? undefined : Number(values["duration-ms"]);
const intervalMs = Number(values["interval-ms"]);

const delegation = process.env.WARDEN_DELEGATION;
const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

const workloadApi = new WorkloadApiClient();
const watcher = workloadApi.watchX509Svids();
const client = new SvidHttpsClient(watcher, values["sidecar-id"]);
const started = Date.now();
await client.ready();
emit({ event: "svid", spiffe_id: watcher.latest?.spiffeId, ms_to_first_svid: Date.now() - started });

const statuses: Record<string, number> = {};
const serverSerials = new Set<string>();
let requests = 0;
let failures = 0;
const deadline = durationMs === undefined ? Infinity : Date.now() + durationMs;
while ((count === undefined || requests < count) && Date.now() < deadline) {
  requests += 1;
  const sent = Date.now();
  try {
    const response = await client.request(url, {
      method: values.body ? "POST" : "GET",
      headers: {
        ...(values.body ? { "content-type": "application/json" } : {}),
        ...(delegation ? { "x-warden-delegation": delegation } : {}),
      },
      body: values.body,
    });
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    serverSerials.add(response.serverSerial);
    if (response.status !== 200) failures += 1;
    emit({
      event: "response",
      status: response.status,
      sent_at: sent,
      ms: Date.now() - sent,
      client_serial: response.clientSerial,
      server_serial: response.serverSerial,
      body: response.status === 200 && !values["print-body"] ? undefined : response.body,
    });
  } catch (error) {
    failures += 1;
    emit({
      event: "error",
      message: error instanceof Error ? error.message : String(error),
      ms: Date.now() - sent,
    });
  }
  if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
}

emit({
  event: "summary",
  requests,
  failures,
  statuses,
  client_svids: client.svidSerials,
  server_certificates: [...serverSerials],
});
client.close();
watcher.close();
workloadApi.close();
