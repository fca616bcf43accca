import { llmApi } from "./api.js";
import { OPENAI_SHAPES } from "./openai.js";

/**
 * Azure OpenAI: the key goes in `api-key`; the model is the deployment in the path
 * (`/openai/deployments/{deployment}/chat/completions?api-version=…`) or, on the v1 API
 * (`/openai/v1/chat/completions`), in the body. Bodies and usage are OpenAI's.
 */
export const azureOpenAiApi = llmApi({ provider: "azure-openai", keyHeader: "api-key", ...OPENAI_SHAPES });
