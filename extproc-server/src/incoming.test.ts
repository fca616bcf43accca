import { extProc } from "../../lib/src/envoy/services.js";
import { UndecodableMessage, decodeProcessingRequest } from "./incoming.js";
import { encodeRequest, requestHeadersRequest, responseBodyRequest } from "./testing/envoy-messages.js";

describe("decodeProcessingRequest", () => {
  it("reads a response body chunk's bytes and end of stream, as the full decoder does", () => {
    const bytes = encodeRequest(responseBodyRequest('data: {"x":1}\n\n', true));
    const fast = decodeProcessingRequest(bytes);
    const full = extProc.ProcessingRequest.decode(bytes);
    if (fast instanceof UndecodableMessage) throw new Error(fast.reason);
    expect(fast.request).toBe("responseBody");
    expect(Buffer.from(fast.responseBody!.body!).toString()).toBe('data: {"x":1}\n\n');
    expect(fast.responseBody!.endOfStream).toBe(true);
    expect(full.responseBody!.endOfStream).toBe(true);
    // The forwarded metadata is on the wire but not decoded: nothing reads it after the headers.
    expect(full.metadataContext).not.toBeNull();
    expect(fast.metadataContext).toBeNull();
  });

  it("leaves a frame naming two phases to the full decoder, so the phase seen does not change", () => {
    const bytes = Buffer.concat([
      encodeRequest(responseBodyRequest("chunk")),
      encodeRequest(requestHeadersRequest({ ":method": "POST", ":path": "/x" })),
    ]);
    const fast = decodeProcessingRequest(bytes);
    if (fast instanceof UndecodableMessage) throw new Error(fast.reason);
    expect(fast.request).toBe(extProc.ProcessingRequest.decode(bytes).request);
    expect(fast.requestHeaders).not.toBeNull();
  });

  it("answers a truncated response body frame with a marker, not a throw", () => {
    const bytes = encodeRequest(responseBodyRequest("a longer chunk of an event stream"));
    expect(decodeProcessingRequest(bytes.subarray(0, 10))).toBeInstanceOf(UndecodableMessage);
  });
});
