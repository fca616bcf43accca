import { isEventStream, responseHeaderDecision } from "./response-headers.js";
import { envoyHeaders, readMutation } from "./testing/envoy-messages.js";

describe("response headers on their way back to the agent", () => {
  test("session cookies and credential-bearing headers are dropped; the rest stays", () => {
    const decision = responseHeaderDecision(
      envoyHeaders([
        [":status", "200"],
        ["content-type", "application/json"],
        ["set-cookie", "a=1"],
        ["Set-Cookie", "b=2"],
        ["www-authenticate", "Bearer"],
        ["x-api-key", "leaked"],
        ["x-request-id", "r1"],
      ]),
    );
    expect(readMutation(decision.edits.toMutation()).remove.sort()).toEqual([
      "set-cookie",
      "www-authenticate",
      "x-api-key",
    ]);
    expect(decision).toMatchObject({ eventStream: false, status: 200 });
  });

  test("a clean response needs no mutation", () => {
    expect(responseHeaderDecision(envoyHeaders({ ":status": "204" })).edits.toMutation()).toBeUndefined();
  });

  test("a server-sent event stream is recognised from its content type", () => {
    expect(
      responseHeaderDecision(envoyHeaders({ "content-type": "text/event-stream; charset=utf-8" }))
        .eventStream,
    ).toBe(true);
  });

  test.each([
    ["text/event-stream", true],
    ["Text/Event-Stream", true],
    [" text/event-stream;charset=utf-8", true],
    ["text/event-streaming", false],
    ["application/json", false],
    ["text/plain", false],
    [undefined, false],
  ])("content type %p streams: %p", (contentType, expected) => {
    expect(isEventStream(contentType)).toBe(expected);
  });
});
