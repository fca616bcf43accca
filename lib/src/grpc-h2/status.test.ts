import { decodeGrpcMessage, encodeGrpcMessage, parseGrpcTimeout } from "./status.js";

describe("grpc-message", () => {
  it("percent-encodes %, control characters and non-ASCII as UTF-8 bytes", () => {
    expect(encodeGrpcMessage("plain text: ok")).toBe("plain text: ok");
    expect(encodeGrpcMessage("100% done\nnext")).toBe("100%25 done%0Anext");
    expect(encodeGrpcMessage("café")).toBe("caf%C3%A9");
  });

  it("decodes what it encodes, and keeps a malformed escape as written", () => {
    for (const text of ["a%b", "line\r\nbreak", "日本語 ✓", "%%41"])
      expect(decodeGrpcMessage(encodeGrpcMessage(text))).toBe(text);
    expect(decodeGrpcMessage("50%zz")).toBe("50%zz");
  });
});

describe("grpc-timeout", () => {
  it("reads every unit into milliseconds", () => {
    expect(parseGrpcTimeout("1H")).toBe(3_600_000);
    expect(parseGrpcTimeout("2M")).toBe(120_000);
    expect(parseGrpcTimeout("3S")).toBe(3_000);
    expect(parseGrpcTimeout("250m")).toBe(250);
    expect(parseGrpcTimeout("1500u")).toBeCloseTo(1.5);
    expect(parseGrpcTimeout("2000000n")).toBeCloseTo(2);
  });

  it("is null when absent and undefined (refused) when malformed", () => {
    expect(parseGrpcTimeout(undefined)).toBeNull();
    for (const bad of ["", "10", "S", "123456789S", "-1S", "1.5S", "10x"])
      expect(parseGrpcTimeout(bad)).toBeUndefined();
  });
});
