import type { ICheckResponse } from "../../lib/src/envoy/services.js";
import {
  mcpBatchRefusalResponse,
  mcpRefusalResponse,
  refusalDetails,
  type McpRefusal,
} from "./mcp-refusal.js";

const refusal = (status: number, reason = "mcp_denied"): McpRefusal => ({
  status,
  reason,
  message: reason,
  details: {},
});

function read(response: ICheckResponse): { status: number; body: unknown } {
  return {
    status: Number(response.deniedResponse?.status?.code),
    body: JSON.parse(response.deniedResponse?.body ?? "null") as unknown,
  };
}

describe("JSON-RPC refusals", () => {
  test("a policy refusal of a request answers HTTP 200; of a notification, the 403 itself", () => {
    expect(read(mcpRefusalResponse(refusal(403), 4, "d")).status).toBe(200);
    expect(read(mcpRefusalResponse(refusal(403), null, "d"))).toMatchObject({
      status: 403,
      body: { id: null },
    });
  });

  test("identity, rate and server failures keep their status even for a request with an id", () => {
    for (const status of [401, 429, 503])
      expect(read(mcpRefusalResponse(refusal(status, "x"), 4, "d"))).toMatchObject({
        status,
        body: { id: 4, error: { code: -32050 } },
      });
  });

  test("a batch answers 200 when every refusal is a policy refusal, else the first other status", () => {
    expect(
      read(
        mcpBatchRefusalResponse(
          [
            { refusal: refusal(403), id: 1 },
            { refusal: refusal(403), id: 2 },
          ],
          "d",
        ),
      ).status,
    ).toBe(200);
    const mixed = read(
      mcpBatchRefusalResponse(
        [
          { refusal: refusal(403), id: 1 },
          { refusal: refusal(401, "identity_missing"), id: 2 },
        ],
        "d",
      ),
    );
    expect(mixed.status).toBe(401);
    expect(mixed.body).toHaveLength(2);
  });

  test("a batch of notifications only is one error with id null", () => {
    expect(read(mcpBatchRefusalResponse([{ refusal: refusal(403), id: null }], "d"))).toMatchObject({
      status: 403,
      body: { id: null, error: { data: { reason: "mcp_denied" } } },
    });
  });

  test("error.data names what the refusal is about, never the identity context", () => {
    expect(
      refusalDetails({
        message: "m",
        agent_spiffe_id: "spiffe://x",
        tenant: "acme",
        mcp_rule: "delete_*",
        required_scopes: ["a"],
      }),
    ).toEqual({ mcp_rule: "delete_*", required_scopes: ["a"] });
  });
});
