import Anthropic from "@anthropic-ai/sdk";
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import OpenAI from "openai";
import { AUTHZ_REQUEST_BODY, type Destination } from "../../lib/src/envoy/bootstrap.js";
import { REPO_ROOT, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startStack, stubbedProviderDestinations, type Stack } from "../harness/stack.js";
import { writePolicyDir } from "../support/fixture-policy.js";

/**
 * Through real Envoy, authz-server and extproc-server: what an agent sends never carries a
 * credential or a forged client address to a provider; oversized JSON is refused before the policy;
 * every refusal reaches the official SDKs as their usual error, with Warden's code and decision id;
 * Envoy's own replies carry the decision id header too.
 */
const SECRETS = {
  queryKey: "AIzaSy-agent-query-key-4f1c",
  queryToken: "ya29.agent-query-token-88aa",
  authToken: "agent-x-auth-token-0b9e",
  privateToken: "glpat-agent-private-token-77",
  amzToken: "agent-amz-session-token-12",
};

// Allows every known route unless the request says `x-test-deny: <status>`; then denies with that status.
const FIXTURE_POLICY = `package warden.authz

default decision := {"allow": false, "status": 403, "reason": "no_rule_allows", "headers": {}, "metadata": {}}

decision := {
	"allow": false,
	"status": to_number(input.request.headers["x-test-deny"]),
	"reason": "test_rule_denied",
	"headers": {},
	"metadata": {"message": "denied by test rule"},
} if {
	input.request.headers["x-test-deny"]
} else := {"allow": true, "status": 200, "reason": "allowed", "headers": {}, "metadata": {}} if {
	is_string(input.destination.service)
	input.destination.service != ""
}
`;

function writeFixturePolicy(): string {
  return writePolicyDir("request-hardening-policy", { file: "policy.rego", source: FIXTURE_POLICY });
}

let stack: Stack;
let slowUpstream: Server;

beforeAll(async () => {
  // An upstream that never answers: Envoy's route timeout produces its own 504.
  slowUpstream = createServer(() => undefined);
  await new Promise<void>((resolve) => slowUpstream.listen(0, "127.0.0.1", resolve));
  const slowPort = (slowUpstream.address() as AddressInfo).port;
  stack = await startStack({
    name: "request-hardening",
    policyDir: writeFixturePolicy(),
    destinations: (upstream): Destination[] => [
      ...stubbedProviderDestinations(upstream),
      {
        name: "slow-openai",
        service: "openai",
        kind: "llm",
        pathPrefix: "/slow-openai/",
        upstream: { address: "127.0.0.1", port: slowPort, tls: false },
        authzRequestBody: { ...AUTHZ_REQUEST_BODY },
      },
    ],
    sidecar: { timeouts: { upstreamRequestS: 2 } },
    authzEnv: { WARDEN_LOG_LEVEL: "debug" },
    extprocEnv: { WARDEN_LOG_LEVEL: "debug" },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  slowUpstream?.closeAllConnections();
  await new Promise((resolve) => slowUpstream?.close(resolve));
}, TEARDOWN_TIMEOUT_MS);

beforeEach(() => stack.upstream.reset());

function lastSeen() {
  const seen = stack.upstream.requests.at(-1);
  if (!seen) throw new Error("the upstream saw no request");
  return seen;
}

function everyLog(): string {
  return [stack.authz.process().log(), stack.extproc.process().log(), stack.envoy.process.log()].join("\n");
}

describe("agent-supplied credentials never reach a provider", () => {
  test.each([
    ["an LLM route (Google AI ?key=)", "/google-ai/v1beta/models"],
    ["a SaaS route", "/github/user/repos"],
  ])("on %s, credential query parameters are stripped; the others pass", async (_, path) => {
    const query =
      `key=${SECRETS.queryKey}&alt=sse&access_token=${SECRETS.queryToken}` +
      `&API_KEY=${SECRETS.queryKey}&pageSize=5`;
    const res = await fetch(`${stack.agentUrl}${path}?${query}`);
    expect(res.headers.get("x-warden-decision-id")).toEqual(expect.any(String));
    const seen = lastSeen();
    const url = new URL(seen.path, "http://upstream");
    expect(url.searchParams.get("alt")).toBe("sse");
    expect(url.searchParams.get("pageSize")).toBe("5");
    expect([...url.searchParams.keys()].sort()).toEqual(["alt", "pageSize"]);
    expect(seen.path).not.toContain(SECRETS.queryKey);
    expect(seen.path).not.toContain(SECRETS.queryToken);
  });

  test("a percent-encoded credential parameter name (%6Bey=) is stripped as well", async () => {
    await fetch(
      `${stack.agentUrl}/google-ai/v1beta/models?%6Bey=${SECRETS.queryKey}&ke%79=${SECRETS.queryToken}&alt=sse`,
    );
    const seen = lastSeen();
    expect(seen.path).not.toContain(SECRETS.queryKey);
    expect(seen.path).not.toContain(SECRETS.queryToken);
    expect(new URL(seen.path, "http://upstream").searchParams.get("alt")).toBe("sse");
  });

  test("no log line of any component holds a credential from the query string, even at debug", async () => {
    await fetch(`${stack.agentUrl}/openai/v1/models?api_key=${SECRETS.queryKey}&token=${SECRETS.queryToken}`);
    expect(stack.authz.process().log()).toContain('"decision input"'); // debug lines were written
    const logs = everyLog() + JSON.stringify(stack.envoy.accessLog());
    expect(logs).not.toContain(SECRETS.queryKey);
    expect(logs).not.toContain(SECRETS.queryToken);
  });

  test("credential headers beyond Authorization (x-auth-token, private-token, x-amz-security-token…) are removed", async () => {
    await fetch(`${stack.agentUrl}/openai/v1/models`, {
      headers: {
        authorization: "Bearer sk-agent-placeholder",
        "x-auth-token": SECRETS.authToken,
        "private-token": SECRETS.privateToken,
        "x-amz-security-token": SECRETS.amzToken,
        "x-goog-api-key": SECRETS.queryKey,
        "x-request-label": "kept",
      },
    });
    const headers = lastSeen().headers;
    for (const name of [
      "authorization",
      "x-auth-token",
      "private-token",
      "x-amz-security-token",
      "x-goog-api-key",
    ])
      expect(headers[name]).toBeUndefined();
    expect(headers["x-request-label"]).toBe("kept");
    const logs = everyLog();
    for (const secret of [SECRETS.authToken, SECRETS.privateToken, SECRETS.amzToken])
      expect(logs).not.toContain(secret);
  });

  test("forwarding headers the agent sends (X-Forwarded-For/Host, X-Real-IP, Forwarded) never reach the provider", async () => {
    await fetch(`${stack.agentUrl}/openai/v1/models`, {
      headers: {
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-host": "admin.internal",
        "x-real-ip": "203.0.113.8",
        forwarded: "for=203.0.113.9;host=admin.internal",
        "true-client-ip": "203.0.113.10",
      },
    });
    const headers = lastSeen().headers;
    expect(JSON.stringify(headers)).not.toMatch(/203\.0\.113|admin\.internal/);
  });
});

describe("input limits before the policy", () => {
  const chat = (body: string) =>
    fetch(`${stack.agentUrl}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });

  test("100,000 nested arrays: 400 naming the depth limit (not a 500), nothing forwarded", async () => {
    const res = await chat(`{"model":"gpt-4o","messages":${"[".repeat(100_000)}${"]".repeat(100_000)}}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string; decision_id: string } };
    expect(body.error).toMatchObject({ code: "body_too_deep", type: "invalid_request_error" });
    expect(body.error.message).toContain("64 levels");
    expect(res.headers.get("x-warden-decision-id")).toBe(body.error.decision_id);
    expect(stack.upstream.requests).toHaveLength(0);
    expect(await stack.authz.health()).toBe("SERVING");
  });

  test("too many keys and an oversized string: 400 each, naming the limit", async () => {
    const keys = Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`k${i}`, 1]));
    const many = await chat(JSON.stringify({ model: "gpt-4o", metadata: keys }));
    expect(many.status).toBe(400);
    expect(((await many.json()) as { error: { code: string } }).error.code).toBe("body_too_many_keys");
    const long = await chat(
      JSON.stringify({ model: "gpt-4o", messages: [{ content: "x".repeat(600_000) }] }),
    );
    expect(long.status).toBe(400);
    expect(((await long.json()) as { error: { code: string } }).error.code).toBe("body_string_too_long");
  });

  test("a body over the 1 MiB buffer: Envoy's 413 in JSON", async () => {
    const res = await chat(JSON.stringify({ model: "gpt-4o", pad: "x".repeat(1024 * 1024 + 10) }));
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: { code: string; decision_id: string | null } };
    expect(body.error.code).toBe("payload_too_large");
    // Envoy refused before ext_authz decided: no decision, so no id in the body or the header.
    expect(body.error.decision_id).toBeNull();
    expect(res.headers.get("x-warden-decision-id")).toBeNull();
  });
});

describe("denials the agent's SDK can act on", () => {
  const openAi = () =>
    new OpenAI({ baseURL: `${stack.agentUrl}/openai/v1`, apiKey: "sk-placeholder", maxRetries: 0 });
  const anthropic = () =>
    new Anthropic({ baseURL: `${stack.agentUrl}/anthropic`, apiKey: "sk-placeholder", maxRetries: 0 });

  test("OpenAI SDK: a policy denial is a PermissionDeniedError with type and code filled", async () => {
    const error = await openAi()
      .chat.completions.create(
        { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] },
        { headers: { "x-test-deny": "403" } },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const apiError = error as InstanceType<typeof OpenAI.PermissionDeniedError>;
    expect(apiError.type).toBe("permission_error");
    expect(apiError.code).toBe("test_rule_denied");
    expect(apiError.param).toBeNull();
    expect(apiError.message).toContain("denied by test rule");
    expect(apiError.headers?.get("x-warden-decision-id")).toEqual(expect.any(String));
  });

  test("OpenAI SDK: an oversized body is a BadRequestError naming the limit", async () => {
    const error = await openAi()
      .chat.completions.create({
        model: "gpt-4o",
        messages: [{ role: "user", content: "x".repeat(600_000) }],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).code).toBe("body_string_too_long");
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).type).toBe("invalid_request_error");
  });

  test("Anthropic SDK: a denial is its PermissionDeniedError with the error type filled", async () => {
    const error = await anthropic()
      .messages.create(
        { model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "hi" }] },
        { headers: { "x-test-deny": "403" } },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const apiError = error as InstanceType<typeof Anthropic.PermissionDeniedError>;
    expect(apiError.type).toBe("permission_error");
    expect(apiError.error).toMatchObject({
      type: "error",
      error: { type: "permission_error", code: "test_rule_denied", decision_id: expect.any(String) },
    });
  });

  test("OpenAI SDK: a rate-limit denial is a RateLimitError", async () => {
    const error = await openAi()
      .models.list({ headers: { "x-test-deny": "429" } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).type).toBe("rate_limit_error");
  });

  test("the official Python SDKs (openai, anthropic) raise PermissionDeniedError with type and code filled", async () => {
    const python = join(REPO_ROOT, ".tools", "venv", "bin", "python");
    const script = join(REPO_ROOT, "test", "fixtures", "python", "sdk_denials.py");
    const out = await new Promise<string>((resolve, reject) =>
      execFile(python, [script, stack.agentUrl], { timeout: 30_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    expect(JSON.parse(out)).toEqual({
      openai: {
        class: "PermissionDeniedError",
        status: 403,
        type: "permission_error",
        code: "test_rule_denied",
        param: null,
        decision_id: expect.any(String),
      },
      anthropic: {
        class: "PermissionDeniedError",
        status: 403,
        type: "error",
        error_type: "permission_error",
        code: "test_rule_denied",
      },
    });
  }, 40_000);

  test("Google AI: google.rpc.Status with the reason and decision id in ErrorInfo", async () => {
    const res = await fetch(`${stack.agentUrl}/google-ai/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-test-deny": "403" },
      body: JSON.stringify({ contents: [] }),
    });
    expect(res.status).toBe(403);
    const decisionId = res.headers.get("x-warden-decision-id");
    expect(await res.json()).toEqual({
      error: {
        code: 403,
        message: "denied by test rule",
        status: "PERMISSION_DENIED",
        details: [
          {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            reason: "test_rule_denied",
            domain: "agent-warden",
            metadata: { decision_id: decisionId },
          },
        ],
      },
    });
  });

  test("a SaaS route keeps Warden's JSON error", async () => {
    const res = await fetch(`${stack.agentUrl}/github/user`, { headers: { "x-test-deny": "403" } });
    expect(await res.json()).toEqual({
      error: {
        code: "test_rule_denied",
        message: "denied by test rule",
        decision_id: res.headers.get("x-warden-decision-id"),
      },
    });
  });

  test("Envoy's own 504 (upstream timeout) on an LLM route: the provider's shape, the decision id in header and body", async () => {
    const res = await fetch(`${stack.agentUrl}/slow-openai/v1/models`);
    expect(res.status).toBe(504);
    const body = (await res.json()) as { error: { code: string; type: string; decision_id: string } };
    // An LLM route: OpenAI's error shape, like Warden's own refusals there.
    expect(body.error).toMatchObject({ code: "upstream_unavailable", type: "api_error" });
    expect(body.error.decision_id).toEqual(expect.any(String));
    expect(res.headers.get("x-warden-decision-id")).toBe(body.error.decision_id);
  }, 15_000);
});
