import type { HeaderEdits } from "../../header-edits.js";
import { OTHER_ROUTE, pathOnly, type LlmApi, type LlmRoute } from "./api.js";
import { OpenAiStreamUsage, openAiOperation, readOpenAiJsonUsage, readOpenAiRequest } from "./openai.js";

/**
 * Azure OpenAI: the key goes in `api-key`; the model is the deployment in the path
 * (`/openai/deployments/{deployment}/chat/completions?api-version=…`) or, on the v1 API
 * (`/openai/v1/chat/completions`), in the body. Bodies and usage are OpenAI's.
 */
const DEPLOYMENT = /\/deployments\/([^/]+)\//;

export const azureOpenAiApi: LlmApi = {
  provider: "azure-openai",
  route(_method: string, path: string): LlmRoute {
    const operation = openAiOperation(path);
    if (operation === "other") return OTHER_ROUTE;
    const deployment = DEPLOYMENT.exec(pathOnly(path))?.[1];
    return { operation, pathModel: deployment ? decodeURIComponent(deployment) : null, pathStream: false };
  },
  injectKey(edits: HeaderEdits, key: string): void {
    edits.set("api-key", key);
  },
  readRequest: readOpenAiRequest,
  readJsonUsage: readOpenAiJsonUsage,
  streamUsage: () => new OpenAiStreamUsage(),
};
