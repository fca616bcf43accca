import { randomBytes } from "node:crypto";
import { AUTHZ_SERVICE_NAME } from "../../authz-server/src/server.js";
import { AuthorizationService, type ICheckResponse } from "../../lib/src/envoy/services.js";
import type { UnaryCall, UnaryCallback } from "../../lib/src/grpc-server/calls.js";
import { H2GrpcServer } from "../../lib/src/grpc-h2/server.js";
import { Status } from "../../lib/src/grpc-h2/status.js";
import { startEnvoy, type EnvoySidecar } from "../harness/envoy.js";
import { freePorts, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startStack, stubbedProviderDestinations, type Stack } from "../harness/stack.js";

/**
 * Envoy in front of an ext_authz server on our node:http2 transport that misbehaves on purpose:
 * every way a Check can fail at the transport (an error status, no answer before the deadline, an
 * answer that does not decode) must refuse the request (failure_mode_allow: false,
 * 503), and the upstream must never see it. The same server answering properly shows the refusals
 * are the faults', not the set-up's.
 */
type Mode = "deny" | "error-status" | "cancelled-status" | "no-answer" | "undecodable";

const DENY: ICheckResponse = {
  status: { code: Status.PERMISSION_DENIED },
  deniedResponse: { status: { code: 403 }, body: "refused by the test server" },
};

describe("Envoy fails closed when the node:http2 authorization server errs", () => {
  let stack: Stack;
  let envoy: EnvoySidecar;
  let faulty: H2GrpcServer;
  let agentUrl: string;
  let mode: Mode = "deny";

  beforeAll(async () => {
    stack = await startStack({ name: "grpc-transport" });
    faulty = new H2GrpcServer(AUTHZ_SERVICE_NAME, 4 * 1024 * 1024);
    const encode = AuthorizationService.check.responseSerialize;
    faulty.addService(
      {
        check: {
          ...AuthorizationService.check,
          responseSerialize: (value: ICheckResponse) =>
            mode === "undecodable" ? randomBytes(64) : encode(value),
        },
      },
      {
        check: (_call: UnaryCall<unknown>, callback: UnaryCallback<ICheckResponse>) => {
          if (mode === "error-status") callback({ code: Status.INTERNAL, details: "authorization failed" });
          else if (mode === "cancelled-status") callback({ code: Status.CANCELLED });
          else if (mode !== "no-answer") callback(null, DENY);
        },
      },
    );
    const authzPort = await faulty.listen("127.0.0.1:0");
    const [agentPort, adminPort] = (await freePorts(2)) as [number, number];
    envoy = await startEnvoy("grpc-transport-faulty-authz", {
      agentListener: { port: agentPort },
      admin: { port: adminPort },
      authz: { address: "127.0.0.1", port: authzPort },
      extproc: { address: "127.0.0.1", port: stack.extproc.port },
      destinations: stubbedProviderDestinations(stack.upstream),
      timeouts: { authzMs: 500, extprocMessageMs: 5_000 },
    });
    agentUrl = `http://127.0.0.1:${agentPort}`;
  }, 120_000);

  afterAll(async () => {
    await envoy?.stop();
    await faulty?.shutdown(100);
    await stack?.stop();
  }, TEARDOWN_TIMEOUT_MS);

  beforeEach(() => stack.upstream.reset());

  test("a proper answer is what the agent gets (the set-up works)", async () => {
    mode = "deny";
    const response = await fetch(`${agentUrl}/openai/v1/models`);
    expect(response.status).toBe(403);
    expect(await response.text()).toBe("refused by the test server");
  }, 30_000);

  test.each<Mode>(["error-status", "cancelled-status", "no-answer", "undecodable"])(
    "%s: the agent gets 503 and the upstream is not called",
    async (fault) => {
      mode = fault;
      const response = await fetch(`${agentUrl}/openai/v1/models`);
      expect(response.status).toBe(503);
      await response.arrayBuffer();
      expect(stack.upstream.requests).toHaveLength(0);
    },
    30_000,
  );
});
