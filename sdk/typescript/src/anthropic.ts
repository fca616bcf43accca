import Anthropic, { type ClientOptions } from "@anthropic-ai/sdk";
import type { Warden } from "./client.js";
import { PLACEHOLDER_API_KEY } from "./openai.js";

/**
 * The official Anthropic client pointed at the sidecar's Anthropic route over the agent's mTLS (the
 * sidecar injects the key; retries are the Warden client's).
 */
export function anthropicClient(warden: Warden, options: Omit<ClientOptions, "fetch"> = {}): Anthropic {
  return new Anthropic({
    apiKey: PLACEHOLDER_API_KEY,
    baseURL: `${warden.sidecarUrl}/anthropic`,
    maxRetries: 0,
    ...options,
    fetch: warden.fetch,
  });
}
