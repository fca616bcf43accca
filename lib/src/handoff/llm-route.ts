/**
 * Which model an LLM request names, read the same way by authz-server (the policy input) and by
 * extproc-server (the usage record), so the two can never disagree. One reader per provider API
 * shape; a path is the percent-decoded request path without its query string.
 */
export type LlmOperation =
  "chat" | "completions" | "responses" | "embeddings" | "messages" | "generate" | "other";

export interface LlmRoute {
  readonly operation: LlmOperation;
  /** The model when the path names it (Google `models/{model}:…`, an Azure deployment). */
  readonly pathModel: string | null;
  /** Streaming decided by the path (Google `:streamGenerateContent`). */
  readonly pathStream: boolean;
}

export interface LlmRequestFacts {
  readonly model: string | null;
  readonly stream: boolean;
}

export interface LlmRouteReader {
  route(method: string, path: string): LlmRoute;
  /** The model and streaming a request asks for, from its route and its parsed JSON body. */
  request(route: LlmRoute, body: Readonly<Record<string, unknown>>): LlmRequestFacts;
}

export const OTHER_ROUTE: LlmRoute = Object.freeze({
  operation: "other",
  pathModel: null,
  pathStream: false,
});

/** The path without its query string. */
export function pathOnly(path: string): string {
  const query = path.indexOf("?");
  return query === -1 ? path : path.slice(0, query);
}

/** Envoy's `:path` as the readers take it: no query string, percent-decoded (kept as is if it cannot be). */
export function decodedRequestPath(rawPath: string): string {
  const path = pathOnly(rawPath);
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

const bodyModel = (body: Readonly<Record<string, unknown>>): string | null =>
  typeof body.model === "string" && body.model.length > 0 ? body.model : null;

/** The body names the model (an Azure deployment stands in when it does not); `stream: true` streams. */
function bodyFirst(route: LlmRoute, body: Readonly<Record<string, unknown>>): LlmRequestFacts {
  return { model: bodyModel(body) ?? route.pathModel, stream: body.stream === true || route.pathStream };
}

const OPENAI_OPERATIONS: readonly (readonly [string, LlmOperation])[] = [
  ["/chat/completions", "chat"],
  ["/completions", "completions"],
  ["/responses", "responses"],
  ["/embeddings", "embeddings"],
];

export function openAiOperation(path: string): LlmOperation {
  for (const [suffix, operation] of OPENAI_OPERATIONS) if (path.endsWith(suffix)) return operation;
  return "other";
}

/** OpenAI: `/v1/chat/completions`, `/v1/completions`, `/v1/responses`, `/v1/embeddings`. */
export const openAiRoutes: LlmRouteReader = {
  route(_method, path) {
    const operation = openAiOperation(path);
    return operation === "other" ? OTHER_ROUTE : { operation, pathModel: null, pathStream: false };
  },
  request: bodyFirst,
};

const MESSAGES_ROUTE: LlmRoute = Object.freeze({ operation: "messages", pathModel: null, pathStream: false });

/** Anthropic Messages: `POST /v1/messages`. */
export const anthropicRoutes: LlmRouteReader = {
  route: (method, path) =>
    method === "POST" && path.endsWith("/v1/messages") ? MESSAGES_ROUTE : OTHER_ROUTE,
  request: bodyFirst,
};

// /v1beta/models/{model}:generateContent (also :streamGenerateContent, :countTokens, :embedContent):
// every method names the model for the policy; only the generate methods are metered.
const GOOGLE_MODEL_PATH = /\/models\/([^/:]+):([A-Za-z]+)$/;
const GOOGLE_GENERATE: ReadonlySet<string> = new Set(["generateContent", "streamGenerateContent"]);

/** Google AI (Gemini API): the path names the model and whether the answer streams. */
export const googleAiRoutes: LlmRouteReader = {
  route(_method, path) {
    const match = GOOGLE_MODEL_PATH.exec(path);
    if (!match) return OTHER_ROUTE;
    const method = match[2]!;
    return {
      operation: GOOGLE_GENERATE.has(method) ? "generate" : "other",
      pathModel: match[1]!,
      pathStream: method === "streamGenerateContent",
    };
  },
  request: (route, body) =>
    route.pathModel === null ? bodyFirst(route, body) : { model: route.pathModel, stream: route.pathStream },
};

const AZURE_DEPLOYMENT_PATH = /\/deployments\/([^/]+)\//;

/**
 * Azure OpenAI: OpenAI's operations under `/openai/deployments/{deployment}/…` (the deployment, a
 * model alias, stands in for the model when the body names none) or `/openai/v1/…`.
 */
export const azureOpenAiRoutes: LlmRouteReader = {
  route(_method, path) {
    const operation = openAiOperation(path);
    const deployment = AZURE_DEPLOYMENT_PATH.exec(path)?.[1] ?? null;
    if (operation === "other" && deployment === null) return OTHER_ROUTE;
    return { operation, pathModel: deployment, pathStream: false };
  },
  request: bodyFirst,
};

/** A route of an LLM service Warden has no module for: the body is all there is to read. */
const unknownServiceRoutes: LlmRouteReader = { route: () => OTHER_ROUTE, request: bodyFirst };

/** Destination service (the Envoy route's `service`) → how its requests name their model. */
export const LLM_ROUTE_READERS: ReadonlyMap<string, LlmRouteReader> = new Map([
  ["openai", openAiRoutes],
  ["anthropic", anthropicRoutes],
  ["google-ai", googleAiRoutes],
  ["azure-openai", azureOpenAiRoutes],
]);

export function llmRouteReader(service: string): LlmRouteReader {
  return LLM_ROUTE_READERS.get(service) ?? unknownServiceRoutes;
}

/** The model and streaming of a request to an LLM service, from its decoded path and parsed body. */
export function llmRequestFacts(
  service: string,
  method: string,
  path: string,
  body: Readonly<Record<string, unknown>>,
): LlmRequestFacts & { readonly route: LlmRoute } {
  const reader = llmRouteReader(service);
  const route = reader.route(method, path);
  return { route, ...reader.request(route, body) };
}
