import { gunzipSync, gzipSync } from "node:zlib";
import { PolicyLoadError } from "../../lib/src/policy-bundle/errors.js";
import { canonicalOpaJson, JsonSyntaxError } from "../../lib/src/policy-bundle/opa-json-digest.js";
import { readTarGz, writeTarGz } from "../../lib/src/policy-bundle/tar.js";

/** The bundle archive reader and OPA's structured-file digest, on inputs opa build never writes. */
function refusedWith(bytes: Buffer, maxBytes?: number): string {
  try {
    readTarGz(bytes, maxBytes);
  } catch (error) {
    if (error instanceof PolicyLoadError && error.code === "bundle_malformed") return error.message;
    throw error;
  }
  throw new Error("the archive was accepted");
}

function withType(type: string, name = "link"): Buffer {
  const tar = Buffer.from(readTarGzRaw(writeTarGz(new Map([[name, Buffer.from("x")]]))));
  tar.write(type, 156, "ascii");
  fixChecksum(tar);
  return gzipSync(tar);
}

function readTarGzRaw(gz: Buffer): Buffer {
  return gunzipSync(gz);
}

function fixChecksum(tar: Buffer): void {
  tar.write("        ", 148, "ascii");
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += tar[i]!;
  tar.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
}

describe("reading a bundle archive", () => {
  test("files come back with the leading slash OPA writes removed", () => {
    const files = readTarGz(
      writeTarGz(
        new Map([
          ["data.json", Buffer.from("{}")],
          ["a/b.rego", Buffer.from("package a")],
        ]),
      ),
    );
    expect([...files.keys()]).toEqual(["data.json", "a/b.rego"]);
    expect(files.get("a/b.rego")!.toString()).toBe("package a");
  });

  test("a path that climbs out of the bundle is refused", () => {
    expect(refusedWith(writeTarGz(new Map([["../etc/passwd", Buffer.from("x")]])))).toContain("unsafe path");
  });

  test("symbolic links are refused", () => {
    expect(refusedWith(withType("2"))).toContain("unsupported type");
  });

  test("the same file twice is refused", () => {
    const one = readTarGzRaw(writeTarGz(new Map([["data.json", Buffer.from("{}")]])));
    const entry = one.subarray(0, 1024);
    expect(refusedWith(gzipSync(Buffer.concat([entry, entry, Buffer.alloc(1024)])))).toContain("twice");
  });

  test("a corrupted header is refused", () => {
    const tar = readTarGzRaw(writeTarGz(new Map([["data.json", Buffer.from("{}")]])));
    tar[10] = 0x41;
    expect(refusedWith(gzipSync(tar))).toContain("checksum");
  });

  test("an archive that inflates beyond the limit is refused before it is held in memory", () => {
    const big = writeTarGz(new Map([["policy.wasm", Buffer.alloc(2 * 1024 * 1024)]]));
    expect(refusedWith(big, 1024 * 1024)).toContain("larger than");
  });

  test("something that is not gzip is refused", () => {
    expect(refusedWith(Buffer.from("PK\u0003\u0004 zip file"))).toContain("gzip");
  });
});

describe("OPA's digest form of JSON files", () => {
  test("keys are sorted by code point and whitespace is dropped", () => {
    expect(canonicalOpaJson('{ "b": 1, "a": [ 2, {"d": null, "c": true} ] }')).toBe(
      '{"a":[2,{"c":true,"d":null}],"b":1}',
    );
    expect(canonicalOpaJson('{"\uE000": 1, "\u{1F600}": 2, "z": 3}')).toBe(
      '{"z":3,"\uE000":1,"\u{1F600}":2}',
    );
  });

  test("numbers keep their literal text, as json.Number does", () => {
    expect(canonicalOpaJson("[1.0, 1E3, -0.50, 123456789012345678901234567890]")).toBe(
      "[1.0,1E3,-0.50,123456789012345678901234567890]",
    );
  });

  test("strings are escaped like Go's encoding/json without HTML escaping", () => {
    expect(canonicalOpaJson('"<&> \\u0007 \\u2028 \\ud800 \\n é"')).toBe(
      '"<&> \\u0007 \\u2028 \ufffd \\n é"',
    );
  });

  test("a repeated key keeps its last value", () => {
    expect(canonicalOpaJson('{"a": 1, "a": 2}')).toBe('{"a":2}');
  });

  test.each(["{", '{"a" 1}', "[1,]", "01", '"unterminated', "{} {}"])("%s is not JSON", (text) => {
    expect(() => canonicalOpaJson(text)).toThrow(JsonSyntaxError);
  });
});
