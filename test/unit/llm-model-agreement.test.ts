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

const CALLS: Readonly<Record<string, readonly Call[]>> = {
  openai: [
    {
      path: "v1/chat/completions",
      body: { model: "gpt-4o-mini", stream: true },
      model: "gpt-4o-mini",
      stream: true,
    },
    {
      path: "v1/completions",
      body: { model: "gpt-3.5-turbo-instruct" },
      model: "gpt-3.5-turbo-instruct",
      stream: false,
    },
    { path: "v1/responses?x=1", body: { model: "o3-mini", stream: true }, model: "o3-mini", stream: true },
    {
      path: "v1/embeddings",
      body: { model: "text-embedding-3-small" },
      model: "text-embedding-3-small",
      stream: false,
    },
  ],
  anthropic: [
    {
      path: "v1/messages",
      body: { model: "claude-sonnet-4-5", stream: true },
      model: "claude-sonnet-4-5",
      stream: true,
    },
    {
      path: "v1/messages",
      body: { model: "claude-3-5-haiku-latest" },
      model: "claude-3-5-haiku-latest",
      stream: false,
    },
  ],
  "google-ai": [
    {
      path: "v1beta/models/gemini-2.5-flash:generateContent",
      body: {},
      model: "gemini-2.5-flash",
      stream: false,
    },
    {
      path: "v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
      body: {},
      model: "gemini-2.5-flash",
      stream: true,
    },
    {
      path: "v1beta/models/gemini%2D2.0-flash:generateContent",
      body: { model: "ignored" },
      model: "gemini-2.0-flash",
      stream: false,
    },
  ],
  "azure-openai": [
    {
      path: "openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
      body: { messages: [], stream: true },
      model: "gpt-4o-prod",
      stream: true,
    },
    {
      path: "openai/deployments/gpt-4o-prod/embeddings?api-version=2024-10-21",
      body: { model: "text-embedding-3-large" },
      model: "text-embedding-3-large",
      stream: false,
    },
    { path: "openai/v1/chat/completions", body: { model: "gpt-4.1" }, model: "gpt-4.1", stream: false },
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
