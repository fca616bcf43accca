import { checkBodyLimits, DEFAULT_BODY_LIMITS, type BodyLimits } from "./body-limits.js";

const LIMITS: BodyLimits = { maxBytes: 1000, maxDepth: 4, maxKeys: 5, maxStringBytes: 10 };
const check = (text: string, limits = LIMITS) => checkBodyLimits(text, Buffer.byteLength(text), limits);

describe("JSON body limits", () => {
  test("an ordinary chat request passes the defaults", () => {
    const body = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    expect(check(body, DEFAULT_BODY_LIMITS)).toBeNull();
  });

  test("100,000 nested arrays are refused as too deep (400), naming the limit", () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    expect(check(deep, DEFAULT_BODY_LIMITS)).toMatchObject({
      status: 400,
      code: "body_too_deep",
      message: expect.stringContaining("64 levels"),
    });
  });

  test("depth counts objects and arrays, and brackets inside strings do not count", () => {
    expect(check('{"a":[{"b":[1]}]}')).toBeNull();
    expect(check('{"a":[{"b":[[1]]}]}')).toMatchObject({ limit: "maxDepth" });
    expect(check('{"a":"[[[[[[[["}')).toBeNull();
  });

  test("too many keys, a long string (escapes do not hide the end) and too many bytes", () => {
    expect(check('{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}')).toMatchObject({ code: "body_too_many_keys" });
    expect(check('{"a":"0123456789A"}')).toMatchObject({ code: "body_string_too_long" });
    expect(check('{"a":"01234\\"678"}')).toBeNull();
    expect(check(`"${"x".repeat(20)}`)).toMatchObject({ code: "body_string_too_long" });
    expect(checkBodyLimits("{}", 1001, LIMITS)).toMatchObject({ status: 413, code: "payload_too_large" });
  });
});
