import { destinationOf, llmFactsOf } from "../../authz-server/src/destination.js";
import { requestFacts } from "../../authz-server/src/request-facts.js";
import { LLM_APIS } from "../../extproc-server/src/providers/llm/registry.js";
import {
  azureOpenAiDestination,
  providerDestinations,
  type Destination,
} from "../../lib/src/envoy/bootstrap.js";
import { auth } from "../../lib/src/envoy/services.js";

/**
 * The policy decides on the model authz-server reads; the usage record names the model
 * extproc-server reads. For every LLM route Warden ships, both must name the same one.
 */
const LLM_DESTINATIONS: readonly Destination[] = [
  ...providerDestinations(),
  azureOpenAiDestination("example.openai.azure.com"),
].filter((destination) => destination.kind === "llm");

interface Call {
  readonly path: string;
  readonly body: Record<string, unknown>;
  readonly model: string | null;
  readonly stream: boolean;
}

const call = (path: string, body: Record<string, unknown>, model: string | null, stream = false): Call => ({
  path,
  body,
  model,
  stream,
});

const CALLS: Readonly<Record<string, readonly Call[]>> = {
  openai: [
    call("v1/chat/completions", { model: "gpt-4o-mini", stream: true }, "gpt-4o-mini", true),
    call("v1/completions", { model: "gpt-3.5-turbo-instruct" }, "gpt-3.5-turbo-instruct"),
    call("v1/responses?x=1", { model: "o3-mini", stream: true }, "o3-mini", true),
    call("v1/embeddings", { model: "text-embedding-3-small" }, "text-embedding-3-small"),
  ],
  anthropic: [
    call("v1/messages", { model: "claude-sonnet-4-5", stream: true }, "claude-sonnet-4-5", true),
    call("v1/messages", { model: "claude-3-5-haiku-latest" }, "claude-3-5-haiku-latest"),
  ],
  "google-ai": [
    call("v1beta/models/gemini-2.5-flash:generateContent", {}, "gemini-2.5-flash"),
    call("v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", {}, "gemini-2.5-flash", true),
    call("v1beta/models/gemini%2D2.0-flash:generateContent", { model: "ignored" }, "gemini-2.0-flash"),
    call("v1beta/models/gemini-2.0-flash:countTokens", {}, "gemini-2.0-flash"),
  ],
  "azure-openai": [
    call(
      "openai/deployments/gpt-4o-prod/chat/completions?api-version=1",
      { stream: true },
      "gpt-4o-prod",
      true,
    ),
    call("openai/deployments/prod/embeddings", { model: "text-embedding-3-large" }, "text-embedding-3-large"),
    call("openai/v1/chat/completions", { model: "gpt-4.1" }, "gpt-4.1"),
  ],
};

function policyLlmFacts(destination: Destination, rawPath: string, body: Record<string, unknown>) {
  const check = auth.CheckRequest.decode(
    auth.CheckRequest.encode({
      attributes: {
        request: { http: { method: "POST", path: rawPath, headers: { "content-type": "application/json" } } },
        contextExtensions: {
          service: destination.service,
          kind: destination.kind,
          path_prefix: destination.pathPrefix,
        },
      },
    }).finish(),
  );
  const facts = requestFacts(check);
  return llmFactsOf(facts, destinationOf(facts), body);
}

function usageRecordFacts(service: string, rawPath: string, body: Record<string, unknown>) {
  const api = LLM_APIS.get(service);
  if (!api) throw new Error(`extproc-server has no module for ${service}`);
  const route = api.route("POST", rawPath);
  const reading = api.readRequest(route, body);
  return { model: reading.model ?? route.pathModel, stream: reading.stream || route.pathStream };
}

test("every shipped LLM destination has calls to check", () => {
  expect(LLM_DESTINATIONS.map((destination) => destination.service).sort()).toEqual(
    Object.keys(CALLS).sort(),
  );
});

describe.each(LLM_DESTINATIONS.map((destination) => [destination.service, destination] as const))(
  "%s",
  (service, destination) => {
    test.each(CALLS[service]!.map((call) => [call.path, call] as const))(
      "POST %s: the policy input and the usage record name the same model",
      (_path, call) => {
        const rawPath = `${destination.pathPrefix}${call.path}`;
        const policy = policyLlmFacts(destination, rawPath, call.body);
        const usage = usageRecordFacts(service, rawPath, call.body);
        expect(policy).toEqual({ provider: service, model: call.model, stream: call.stream });
        expect(usage).toEqual({ model: call.model, stream: call.stream });
      },
    );
  },
);
