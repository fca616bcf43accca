import type { PeerIdentity } from "./peer-certificate.js";
import { zeroCodeIdentity } from "./zero-code.js";

const A = "spiffe://warden.local/agent/legacy-bot";
const B = "spiffe://warden.local/agent/other-bot";
const noHeaders = { authorization: null, xfcc: null };
const plain = { principal: "", certificate: "" };
const withCert = { principal: B, certificate: "-----BEGIN%20CERTIFICATE-----" };
/** The usual verification, standing for the certificate check: the peer is whoever its principal names. */
const verified = (peer: { principal: string }): PeerIdentity =>
  peer.principal
    ? { ok: true, source: { spiffe_id: peer.principal, trust_domain: "warden.local", verified: true } }
    : { ok: false, status: 401, reason: "identity_missing", message: "no client certificate was presented" };

const reason = (identity: PeerIdentity) => (identity.ok ? identity.source.spiffe_id : identity.reason);

describe("zero-code identity", () => {
  const bound = zeroCodeIdentity(A, verified);

  test("a zero-code route of the bound agent is that agent, with no certificate", () => {
    const identity = bound(plain, 0, noHeaders, { service: "openai", zero_code_agent: A });
    expect(identity).toEqual({
      ok: true,
      source: { spiffe_id: A, trust_domain: "warden.local", verified: true, via: "zero_code" },
    });
  });

  test("the mTLS listener's routes stay the certificate's identity: another agent is itself, not the bound one", () => {
    expect(reason(bound(withCert, 0, noHeaders, { service: "openai" }))).toBe(B);
    expect(reason(bound(plain, 0, noHeaders, { service: "openai" }))).toBe("identity_missing");
    // Headers never name anyone.
    expect(reason(bound(plain, 0, { authorization: null, xfcc: `URI=${A}` }, { service: "openai" }))).toBe(
      "identity_missing",
    );
  });

  test("refused: another agent named, a certificate on a zero-code route, or a server not bound", () => {
    expect(reason(bound(plain, 0, noHeaders, { zero_code_agent: B }))).toBe("zero_code_unbound");
    expect(reason(bound(withCert, 0, noHeaders, { zero_code_agent: A }))).toBe("zero_code_unbound");
    const unbound = zeroCodeIdentity(null, verified);
    expect(reason(unbound(plain, 0, noHeaders, { zero_code_agent: A }))).toBe("zero_code_unbound");
    const plaintextDev = zeroCodeIdentity(null, undefined);
    expect(reason(plaintextDev(plain, 0, noHeaders, { zero_code_agent: A }))).toBe("zero_code_unbound");
    expect(reason(plaintextDev({ principal: B, certificate: "" }, 0, noHeaders, {}))).toBe(B);
  });

  test("a bound agent that is not a SPIFFE ID is a start-up error", () => {
    expect(() => zeroCodeIdentity("legacy-bot", verified)).toThrow(/not a SPIFFE ID/);
  });
});
