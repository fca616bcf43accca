import { auth, type CheckRequest } from "../../lib/src/envoy/services.js";
import { fromStruct } from "../../lib/src/envoy/struct.js";
import { argumentsDigest } from "../../lib/src/mcp/digest.js";
import { authorize, REFUSE_ALL_DELEGATIONS, type AuthorizerDeps, type Policy } from "./authorizer.js";
import type { Decision } from "./check-response.js";
import { EMPTY_DIRECTORY, NO_KYA, type AgentDirectory } from "./identity/source.js";
import { RateLimitIndex } from "./ratelimits/rate-limit-feed.js";
import type { PolicyInput } from "./policy-input.js";
import { PolicyHolder } from "./policy/holder.js";

type Headers = Record<string, string>;

function checkRequest(opts: {
  path?: string;
  method?: string;
  headers?: Headers;
  principal?: string;
  body?: string;
  route?: Record<string, string>;
}): CheckRequest {
  const bytes = auth.CheckRequest.encode({
    attributes: {
      source: { principal: opts.principal ?? "" },
      request: {
        http: {
          id: "req-1",
          method: opts.method ?? "POST",
          path: opts.path ?? "/openai/v1/chat/completions",
          host: "127.0.0.1:10000",
          scheme: "http",
          headers: { ":path": opts.path ?? "/", "content-type": "application/json", ...opts.headers },
          body: opts.body ?? "",
        },
      },
      contextExtensions: opts.route ?? { service: "openai", kind: "llm", path_prefix: "/openai" },
    },
  }).finish();
  return auth.CheckRequest.decode(bytes);
}

function recordingPolicy(decide: (input: PolicyInput) => Decision): Policy & { inputs: PolicyInput[] } {
  const inputs: PolicyInput[] = [];
  return {
    revision: "rev-7",
    inputs,
    evaluate(input: unknown) {
      inputs.push(input as PolicyInput);
      return decide(input as PolicyInput);
    },
  };
}

const allowAll = (): Decision => ({ allow: true, status: 200, reason: "ok", headers: {}, metadata: {} });

function deps(policy: Policy | undefined, directory: AgentDirectory = EMPTY_DIRECTORY): AuthorizerDeps {
  let n = 0;
  return {
    policy: () => policy,
    directory,
    delegations: REFUSE_ALL_DELEGATIONS,
    nowNs: () => 1_700_000_000_000_000_000,
    newDecisionId: () => `d-${++n}`,
  };
}

describe("authorize", () => {
  it("query parameters named like Object's own properties are ordinary parameters", () => {
    const policy = recordingPolicy(allowAll);
    authorize(
      checkRequest({ path: "/openai/v1/models?constructor=a&__proto__=b&__proto__=c&toString=d" }),
      deps(policy),
    );
    const query = policy.inputs[0]!.request.query;
    // As the policy receives it (JSON): every parameter is there, under its own name.
    expect(JSON.stringify(query)).toBe('{"constructor":"a","__proto__":["b","c"],"toString":"d"}');
    expect(Object.getPrototypeOf(query)).toBe(Object.prototype);
  });

  it("gives the policy the upstream path, parsed body and LLM facts, with credentials redacted", () => {
    const policy = recordingPolicy(allowAll);
    authorize(
      checkRequest({
        path: "/openai/v1/chat/completions?x=1&x=2",
        headers: { authorization: "Bearer sk-agent-should-not-have-this", "x-api-key": "k" },
        body: JSON.stringify({ model: "gpt-4o-mini", stream: true }),
      }),
      deps(policy),
    );
    const input = policy.inputs[0]!;
    expect(input.request.path).toBe("/v1/chat/completions");
    expect(input.request.query).toEqual({ x: ["1", "2"] });
    expect(input.request.headers.authorization).toBe("[REDACTED]");
    expect(input.request.headers["x-api-key"]).toBe("[REDACTED]");
    expect(JSON.stringify(input)).not.toContain("sk-agent-should-not-have-this");
    expect(input.llm).toEqual({ provider: "openai", model: "gpt-4o-mini", stream: true });
    expect(input.destination).toEqual({ service: "openai", kind: "llm" });
    expect(input.now_ns).toBe(1_700_000_000_000_000_000);
  });

  it("strips credential query parameters upstream and redacts them from the policy input", () => {
    const policy = recordingPolicy(allowAll);
    const { response } = authorize(
      checkRequest({ path: "/google-ai/v1beta/models?key=AIza-agent-secret&alt=sse&Access_Token=t&%6Bey=k" }),
      deps(policy),
    );
    // As written: Envoy matches the names without decoding them, providers decode them.
    expect(response.okResponse?.queryParametersToRemove).toEqual(["key", "Access_Token", "%6Bey"]);
    expect(policy.inputs[0]!.request.query).toEqual({
      key: "[REDACTED]",
      alt: "sse",
      Access_Token: "[REDACTED]",
    });
    expect(JSON.stringify(policy.inputs[0])).not.toContain("AIza-agent-secret");
  });

  it("refuses a body over a limit before the policy runs: 400 naming the limit, in the provider's shape", () => {
    const policy = recordingPolicy(allowAll);
    const { response } = authorize(
      checkRequest({ body: "[".repeat(100_000) + "]".repeat(100_000) }),
      deps(policy),
    );
    expect(policy.inputs).toHaveLength(0);
    expect(response.deniedResponse?.status?.code).toBe(400);
    expect(JSON.parse(response.deniedResponse!.body!)).toMatchObject({
      error: { code: "body_too_deep", type: "invalid_request_error", message: expect.stringContaining("64") },
    });
  });

  it("takes the identity only from the verified peer principal, never from headers", () => {
    const policy = recordingPolicy(allowAll);
    authorize(checkRequest({ headers: { "x-spiffe-id": "spiffe://warden.local/agent/evil" } }), deps(policy));
    expect(policy.inputs[0]!.source).toEqual({ spiffe_id: null, trust_domain: null, verified: false });

    authorize(checkRequest({ principal: "spiffe://warden.local/agent/research-bot" }), deps(policy));
    expect(policy.inputs[1]!.source).toEqual({
      spiffe_id: "spiffe://warden.local/agent/research-bot",
      trust_domain: "warden.local",
      verified: true,
    });
  });

  it("answers OK with the decision id header and hands identity to ext_proc as dynamic metadata", () => {
    const { response, record } = authorize(
      checkRequest({ principal: "spiffe://warden.local/agent/a" }),
      deps(recordingPolicy(() => ({ ...allowAll(), headers: { "x-policy": "yes" } }))),
    );
    expect(response.status?.code).toBe(0);
    const added = (response.okResponse?.headers ?? []).map((h) => [h.header?.key, h.header?.value]);
    expect(added).toContainEqual(["x-warden-decision-id", record.decision_id]);
    expect(added).toContainEqual(["x-policy", "yes"]);
    expect(response.okResponse?.headersToRemove).toContain("x-warden-delegation");
    expect(fromStruct(response.dynamicMetadata).policy_headers).toEqual(["x-policy"]);
    const metadata = fromStruct(response.dynamicMetadata);
    expect(metadata).toMatchObject({
      decision_id: record.decision_id,
      policy_revision: "rev-7",
      agent_spiffe_id: "spiffe://warden.local/agent/a",
      service: "openai",
      kind: "llm",
    });
  });

  it("removes x-warden-* headers an agent forged, but not the ones the policy sets", () => {
    const { response } = authorize(
      checkRequest({
        principal: "spiffe://warden.local/agent/a",
        headers: { "x-warden-agent": "spiffe://warden.local/agent/admin", "x-warden-policy": "forged" },
      }),
      deps(recordingPolicy(() => ({ ...allowAll(), headers: { "x-warden-policy": "real" } }))),
    );
    expect(response.okResponse?.headersToRemove).toEqual(["x-warden-delegation", "x-warden-agent"]);
  });

  it("denies with the policy's status and a JSON body naming the reason", () => {
    const { response } = authorize(
      checkRequest({}),
      deps(
        recordingPolicy(() => ({
          allow: false,
          status: 401,
          reason: "identity_missing",
          headers: {},
          metadata: { message: "no client certificate" },
        })),
      ),
    );
    expect(response.status?.code).toBe(16);
    expect(response.deniedResponse?.status?.code).toBe(401);
    // An LLM route (OpenAI): the provider's error shape, carrying Warden's code and decision id.
    expect(JSON.parse(response.deniedResponse!.body!)).toEqual({
      error: {
        code: "identity_missing",
        message: "no client certificate",
        decision_id: "d-1",
        type: "authentication_error",
        param: null,
      },
    });
  });

  it("turns a status a denial may not carry into 403", () => {
    const { response } = authorize(
      checkRequest({}),
      deps(recordingPolicy(() => ({ allow: false, status: 200, reason: "odd", headers: {}, metadata: {} }))),
    );
    expect(response.deniedResponse?.status?.code).toBe(403);
  });

  it("refuses everything with 503 policy_not_loaded while the holder has no policy yet", () => {
    const { response, record } = authorize(checkRequest({}), deps(new PolicyHolder().current()));
    expect(response.deniedResponse?.status?.code).toBe(503);
    expect(record).toMatchObject({ allow: false, status: 503, reason: "policy_not_loaded" });
  });

  it("refuses with 500 policy_evaluation_failed when the policy throws, never allows", () => {
    const { response, record } = authorize(
      checkRequest({}),
      deps(
        recordingPolicy(() => {
          throw new Error("boom");
        }),
      ),
    );
    expect(response.deniedResponse?.status?.code).toBe(500);
    expect(response.okResponse).toBeFalsy();
    expect(record).toMatchObject({ allow: false, status: 500, reason: "policy_evaluation_failed" });
  });

  it("answers 400 for a body that claims JSON but is not, and for a path that is not UTF-8", () => {
    const policy = recordingPolicy(allowAll);
    const badJson = authorize(checkRequest({ body: "{not json" }), deps(policy));
    expect(badJson.response.deniedResponse?.status?.code).toBe(400);
    expect(JSON.parse(badJson.response.deniedResponse!.body!).error.message).toMatch(/not valid JSON/);
    const badPath = authorize(checkRequest({ path: "/openai/%FF%FE" }), deps(policy));
    expect(badPath.response.deniedResponse?.status?.code).toBe(400);
    expect(policy.inputs).toHaveLength(0);
  });

  it("in dry-run mode records the denial but lets the request through", () => {
    const d = {
      ...deps(
        recordingPolicy(() => ({ allow: false, status: 403, reason: "new rule", headers: {}, metadata: {} })),
      ),
      dryRun: true,
    };
    const { response, record } = authorize(checkRequest({}), d);
    expect(response.okResponse).toBeTruthy();
    expect(record).toMatchObject({ allow: false, dry_run: true, reason: "new rule" });
  });

  it("marks a delegation header as present but unverified when no verifier accepts it, and redacts it", () => {
    const policy = recordingPolicy(allowAll);
    authorize(checkRequest({ headers: { "x-warden-delegation": "eyJ.secret.token" } }), deps(policy));
    expect(policy.inputs[0]!.delegation).toMatchObject({ present: true, valid: false });
    expect(JSON.stringify(policy.inputs[0])).not.toContain("eyJ.secret.token");
  });

  it("reads Google AI model and streaming from the path, and MCP tool calls from the body", () => {
    const policy = recordingPolicy(allowAll);
    authorize(
      checkRequest({
        path: "/google-ai/v1beta/models/gemini-2.0-flash:streamGenerateContent",
        route: { service: "google-ai", kind: "llm", path_prefix: "/google-ai" },
        body: "{}",
      }),
      deps(policy),
    );
    expect(policy.inputs[0]!.llm).toEqual({ provider: "google-ai", model: "gemini-2.0-flash", stream: true });
    authorize(
      checkRequest({
        path: "/mcp/files/",
        route: { service: "files", kind: "mcp", path_prefix: "/mcp/files" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "read_file" } }),
      }),
      deps(policy),
    );
    expect(policy.inputs[1]!.mcp).toEqual({
      kind: "request",
      method: "tools/call",
      name: "read_file",
      arguments_digest: argumentsDigest({}),
      protocol_version: null,
      upstream: "server",
    });
  });
});

describe("rate limits in the decision", () => {
  const bot = "spiffe://warden.local/agent/bot";
  const directory: AgentDirectory = {
    lookup: (spiffeId) =>
      spiffeId === bot
        ? {
            agent: {
              id: "a-1",
              spiffe_id: bot,
              kind: "agent",
              name: "bot",
              owner: "o",
              team: "red",
              type: "assistant",
              environment: "prod",
              tenant: "acme",
              status: "active",
              capabilities: [],
            },
            kya: NO_KYA,
          }
        : undefined,
  };
  const limits = new RateLimitIndex();
  limits.replaceAll([
    {
      tenant: "acme",
      scope: "tenant",
      subject: "acme",
      unit: "requests",
      perMinute: 10_000,
      failureMode: "open",
    },
    {
      tenant: "acme",
      scope: "team",
      subject: "red",
      unit: "tokens",
      perMinute: 50_000,
      failureMode: "closed",
    },
    {
      tenant: "globex",
      scope: "tenant",
      subject: "globex",
      unit: "requests",
      perMinute: 5,
      failureMode: "closed",
    },
  ]);
  const withLimits = (policy: Policy): AuthorizerDeps => ({ ...deps(policy, directory), rateLimits: limits });
  const failClosedMark = (response: ReturnType<typeof authorize>["response"]) =>
    (fromStruct(response.dynamicMetadata).policy as Record<string, unknown> | undefined)
      ?.rate_limit_fail_closed;

  it("the policy sees the limits that apply to the request (its tenant's only)", () => {
    const policy = recordingPolicy(allowAll);
    authorize(checkRequest({ principal: bot }), withLimits(policy));
    expect(policy.inputs[0]!.rate_limits).toEqual([
      { scope: "tenant", subject: "acme", unit: "requests", per_minute: 10_000, failure_mode: "open" },
      { scope: "team", subject: "red", unit: "tokens", per_minute: 50_000, failure_mode: "closed" },
    ]);
  });

  it("a request under a fail-closed limit is marked for the sidecar's fail-closed stage, without the policy's help", () => {
    const teamInMetadata = (): Decision => ({ ...allowAll(), metadata: { team: "red" } });
    const { response } = authorize(
      checkRequest({ principal: bot }),
      withLimits(recordingPolicy(teamInMetadata)),
    );
    expect(failClosedMark(response)).toBe("true");
  });

  it("a request under fail-open limits only is not marked", () => {
    const otherTeam = (): Decision => ({ ...allowAll(), metadata: { team: "blue" } });
    const { response } = authorize(checkRequest({ principal: bot }), withLimits(recordingPolicy(otherTeam)));
    expect(failClosedMark(response)).toBeUndefined();
  });

  it("without a rate-limit book the policy sees no limits", () => {
    const policy = recordingPolicy(allowAll);
    authorize(checkRequest({ principal: bot }), deps(policy, directory));
    expect(policy.inputs[0]!.rate_limits).toEqual([]);
  });
});
