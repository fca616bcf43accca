import { anthropicApi } from "./anthropic.js";
import type { LlmApi } from "./api.js";
import { azureOpenAiApi } from "./azure-openai.js";
import { googleAiApi } from "./google-ai.js";
import { openAiApi } from "./openai.js";

/** Destination service (the Envoy route's `service`) → the module that speaks its API. */
export const LLM_APIS: ReadonlyMap<string, LlmApi> = new Map(
  [openAiApi, anthropicApi, googleAiApi, azureOpenAiApi].map((api) => [api.provider, api]),
);
