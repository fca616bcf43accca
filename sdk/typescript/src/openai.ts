import OpenAI, { type ClientOptions } from "openai";
import type { Warden } from "./client.js";

/**
 * The official OpenAI client pointed at the sidecar's OpenAI route over the agent's mTLS. The agent
 * holds no API key: the sidecar injects the tenant's key, so the `apiKey` here is a placeholder the
 * sidecar replaces. Retries are the Warden client's (429/503 with Retry-After), not OpenAI's own.
 */
export const PLACEHOLDER_API_KEY = "injected-by-warden";

export function openAiClient(warden: Warden, options: Omit<ClientOptions, "fetch"> = {}): OpenAI {
  return new OpenAI({
    apiKey: PLACEHOLDER_API_KEY,
    baseURL: `${warden.sidecarUrl}/openai/v1`,
    maxRetries: 0,
    ...options,
    fetch: warden.fetch,
  });
}
