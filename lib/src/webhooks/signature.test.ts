import { ReplayGuard, signatureHeader, verifySignature } from "./signature.js";

const secret = "whsec_test";
const body = '{"id":"e1","type":"agent.revoked"}';
const at = new Date("2026-12-07T12:00:00Z");
const t = Math.floor(at.getTime() / 1000);

test("a signature made with the secret over the timestamp and body verifies", () => {
  const header = signatureHeader(secret, t, body);
  expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  expect(verifySignature({ header, body, secret, now: at })).toEqual({ ok: true, timestamp: t });
  expect(verifySignature({ header, body: Buffer.from(body), secret, now: at }).ok).toBe(true);
});

test("another body, secret or timestamp fails; a malformed header is reported as such", () => {
  const header = signatureHeader(secret, t, body);
  expect(verifySignature({ header, body: body.replace("revoked", "approved"), secret, now: at })).toEqual({
    ok: false,
    failure: "bad_signature",
  });
  expect(verifySignature({ header, body, secret: "whsec_other", now: at })).toMatchObject({
    failure: "bad_signature",
  });
  const moved = header.replace(`t=${t}`, `t=${t + 1}`);
  expect(verifySignature({ header: moved, body, secret, now: at })).toMatchObject({
    failure: "bad_signature",
  });
  for (const bad of [undefined, "", "t=1", "v1=abc", `t=x,v1=${"0".repeat(64)}`])
    expect(verifySignature({ header: bad, body, secret, now: at })).toMatchObject({ failure: "malformed" });
});

test("a signature older or newer than five minutes is outside the window", () => {
  const old = signatureHeader(secret, t - 301, body);
  expect(verifySignature({ header: old, body, secret, now: at })).toMatchObject({
    failure: "outside_window",
  });
  expect(verifySignature({ header: signatureHeader(secret, t - 299, body), body, secret, now: at }).ok).toBe(
    true,
  );
  expect(verifySignature({ header: signatureHeader(secret, t + 301, body), body, secret, now: at }).ok).toBe(
    false,
  );
});

test("the replay guard accepts an event id once within the window", () => {
  const guard = new ReplayGuard(300);
  expect(guard.accept("e1", at)).toBe(true);
  expect(guard.accept("e1", new Date(at.getTime() + 1_000))).toBe(false);
  expect(guard.accept("e2", at)).toBe(true);
  // Long after the window the id is forgotten (its signature would be refused anyway).
  expect(guard.accept("e1", new Date(at.getTime() + 11 * 60_000))).toBe(true);
});
