import type { IProcessingResponse } from "../../../lib/src/envoy/services.js";
import { createLogger } from "../../../lib/src/logger.js";
import type { Provider } from "../providers.js";
import { StreamProcessor } from "../stream-processor.js";
import { asEnvoyReads } from "./envoy-messages.js";

/** One ext_proc stream as the server runs it, with these providers and a quiet logger. */
export function processorWith(providers: Provider[], decisionId = "dec-new"): StreamProcessor {
  return new StreamProcessor({
    providers,
    logger: createLogger("extproc-test", "silent"),
    newDecisionId: () => decisionId,
  });
}

/** The processor's answer (awaited if it is a promise) as Envoy decodes it off the wire. */
export async function envoyReply(value: ReturnType<StreamProcessor["process"]>) {
  const answer = await value;
  if (!answer) throw new Error("expected a reply");
  return asEnvoyReads(answer as IProcessingResponse);
}
