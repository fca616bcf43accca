import { SecretScrubber } from "./scrub.js";

const KEY = "sk-live-0123456789abcdef";
const text = (bytes: Uint8Array | undefined) => (bytes ? Buffer.from(bytes).toString("utf8") : undefined);

test("every occurrence of a key is replaced and JSON stays valid", () => {
  const scrubber = new SecretScrubber([KEY]);
  const body = JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}. Key ${KEY}` } });
  const scrubbed = text(scrubber.scrub(Buffer.from(body)));
  expect(scrubbed).not.toContain(KEY);
  expect(JSON.parse(scrubbed!)).toEqual({
    error: { message: "Incorrect API key provided: [REDACTED]. Key [REDACTED]" },
  });
});

test("a body without a secret is left alone (undefined: send the original)", () => {
  expect(new SecretScrubber([KEY]).scrub(Buffer.from('{"ok":true}'))).toBeUndefined();
});

test("several secrets are all scrubbed; values too short to be keys are ignored", () => {
  const other = "sk-ant-api03-abcdefghijklmnop";
  const scrubber = new SecretScrubber([KEY, other, "short"]);
  expect(text(scrubber.scrub(Buffer.from(`${other} ${KEY} short`)))).toBe("[REDACTED] [REDACTED] short");
  expect(scrubber.longest).toBe(Buffer.byteLength(other));
});

test("header values are scrubbed as text", () => {
  const scrubber = new SecretScrubber([]).with(KEY);
  expect(scrubber.scrubText(`Bearer ${KEY}`)).toBe("Bearer [REDACTED]");
  expect(scrubber.scrubText("nothing here")).toBeUndefined();
});

test("with() returns the same scrubber when it already knows the value", () => {
  const scrubber = new SecretScrubber([KEY]);
  expect(scrubber.with(KEY)).toBe(scrubber);
  expect(scrubber.with("sk-another-key-value").has("sk-another-key-value")).toBe(true);
});
