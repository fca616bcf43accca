import { createLogger } from "../../../lib/src/logger.js";
import type { Provider } from "../providers.js";
import { StreamProcessor } from "../stream-processor.js";

const silent = createLogger("extproc-test", "silent");

/** One exchange's processor with the given providers, a silent log and a fixed id for new decisions. */
export function testProcessor(providers: Provider[] = [], newDecisionId = "dec-new"): StreamProcessor {
  return new StreamProcessor({ providers, logger: silent, newDecisionId: () => newDecisionId });
}
