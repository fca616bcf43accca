import { Agent } from "node:https";
import type { PeerCertificate } from "node:tls";
import { parseArgs } from "node:util";
import OpenAI from "openai";
import { WorkloadApiClient } from "../../lib/src/spiffe/workload-client.js";
import { svidFetch } from "./svid-fetch.js";

/**
 * An example AI agent written the way agents are: the official `openai` SDK, base URL = the Warden
 * sidecar, no API key (a placeholder the sidecar removes). Its identity is the X.509-SVID the SPIRE
 * agent gives its process (SPIFFE_ENDPOINT_SOCKET), presented with mTLS.
 *
 *   openai-agent --base-url https://127.0.0.1:<port>/openai/v1 [--sidecar-id spiffe://…/warden/envoy]
 *                [--stream] [--model gpt-4o-mini] [--prompt hi]
 *
 * Prints JSON lines: `{"event":"svid"}`, then `{"event":"reply"}` or `{"event":"chunk"}`… `{"event":"done"}`,
 * or `{"event":"refused","status":403,"code":"kya_missing"}`.
 */
const { values } = parseArgs({
  options: {
    "base-url": { type: "string" },
    "sidecar-id": { type: "string", default: "spiffe://warden.local/warden/envoy" },
    stream: { type: "boolean", default: false },
    model: { type: "string", default: "gpt-4o-mini" },
    prompt: { type: "string", default: "hi" },
  },
});
const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);
if (!values["base-url"]) {
  process.stderr.write("openai-agent: --base-url is required\n");
  process.exit(64);
}

const workload = new WorkloadApiClient();
const watcher = workload.watchX509Svids();
const svid = await watcher.waitForUpdate(() => true, 30_000);
const sidecar = `URI:${values["sidecar-id"]}`;
const tls = new Agent({
  cert: svid.certChainPem,
  key: svid.keyPem,
  ca: Object.values(svid.bundlesPem),
  checkServerIdentity: (_host: string, cert: PeerCertificate) =>
    cert.subjectaltname?.split(", ").includes(sidecar)
      ? undefined
      : new Error(`the sidecar is not ${sidecar}`),
});
emit({ event: "svid", spiffe_id: svid.svids[0]?.spiffeId });

const client = new OpenAI({
  baseURL: values["base-url"],
  apiKey: "placeholder-the-agent-holds-no-key",
  fetch: svidFetch(tls),
  maxRetries: 0,
});
const started = Date.now();
try {
  if (values.stream) {
    const stream = await client.chat.completions.create({
      model: values.model,
      messages: [{ role: "user", content: values.prompt }],
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) {
      emit({ event: "chunk", ms: Date.now() - started, content: chunk.choices[0]?.delta?.content ?? "" });
    }
    emit({ event: "done", ms: Date.now() - started });
  } else {
    const reply = await client.chat.completions.create({
      model: values.model,
      messages: [{ role: "user", content: values.prompt }],
    });
    emit({ event: "reply", content: reply.choices[0]?.message.content, usage: reply.usage });
  }
} catch (error) {
  if (error instanceof OpenAI.APIError) {
    const body = error.error as { code?: string; message?: string } | undefined;
    emit({ event: "refused", status: error.status, code: body?.code ?? error.code, message: body?.message });
  } else {
    emit({ event: "error", message: error instanceof Error ? error.message : String(error) });
  }
} finally {
  tls.destroy();
  watcher.close();
  workload.close();
}
