import type { BearerCheck } from "./bearer-token.js";
import { inboundIdentity, type InboundHeaders } from "./inbound-identity.js";
import type { PeerAttributes, PeerIdentity } from "./peer-certificate.js";

const TD = "warden.local";
const SIDECAR = `spiffe://${TD}/warden/envoy`;
const BOT = `spiffe://${TD}/agent/bot`;
const OTHER = `spiffe://${TD}/agent/other`;
const METADATA = "https://files.example/.well-known/oauth-protected-resource/mcp";
const NOW_NS = 1_800_000_000 * 1e9;

/** Stands in for certificate verification: the "certificate" is the SPIFFE ID it proves, or "bad". */
const verifyPeer = (peer: PeerAttributes): PeerIdentity =>
  peer.certificate === "bad"
    ? { ok: false, status: 401, reason: "certificate_untrusted", message: "untrusted" }
    : {
        ok: true,
        source: { spiffe_id: peer.certificate, trust_domain: TD, verified: true },
      };

const bearer: BearerCheck = (token) =>
  token === "good.token.sig"
    ? { ok: true, agentSpiffeId: BOT, scopes: ["files:read"], tokenId: "t1", expiresAt: 0 }
    : { ok: false, error: "audience_invalid" };

const identify = inboundIdentity({
  verifyPeer,
  trustedSidecars: new Set([SIDECAR]),
  bearer,
  resourceMetadataUrl: METADATA,
});

const peer = (certificate: string): PeerAttributes => ({ principal: "", certificate });
const headers = (h: Partial<InboundHeaders> = {}): InboundHeaders => ({
  authorization: null,
  xfcc: null,
  ...h,
});

describe("who calls an MCP server through its inbound sidecar", () => {
  test("an agent with its own SVID is itself, whatever XFCC it sends", () => {
    const result = identify(peer(BOT), NOW_NS, headers({ xfcc: `Hash=00;URI=${OTHER}` }));
    expect(result).toEqual({
      ok: true,
      source: { spiffe_id: BOT, trust_domain: TD, verified: true, via: "svid" },
    });
  });

  test("a trusted Warden sidecar vouches for its agent through XFCC", () => {
    const result = identify(peer(SIDECAR), NOW_NS, headers({ xfcc: `Hash=ab;URI=${BOT}` }));
    expect(result).toEqual({
      ok: true,
      source: { spiffe_id: BOT, trust_domain: TD, verified: true, via: "sidecar", sidecar: SIDECAR },
    });
  });

  test("the agent certificate's SHA-256 (XFCC Hash, hex) becomes its x5t#S256 (base64url)", () => {
    const hash = "ab".repeat(32);
    const result = identify(peer(SIDECAR), NOW_NS, headers({ xfcc: `Hash=${hash};URI=${BOT}` }));
    expect(result).toMatchObject({
      ok: true,
      certificateThumbprint: Buffer.from(hash, "hex").toString("base64url"),
    });
    // From an agent calling directly, no thumbprint is believed: its own certificate is the binding.
    expect(identify(peer(BOT), NOW_NS, headers({ xfcc: `Hash=${hash};URI=${BOT}` }))).not.toHaveProperty(
      "certificateThumbprint",
    );
  });

  test("a sidecar that vouches for nobody, several agents, another sidecar or garbage is refused", () => {
    for (const xfcc of [null, "URI=not-a-spiffe-id", `URI=${BOT},URI=${OTHER}`, `URI=${SIDECAR}`, "URI"]) {
      const result = identify(peer(SIDECAR), NOW_NS, headers({ xfcc }));
      expect(result).toMatchObject({ ok: false, status: 401, reason: "sidecar_vouch_invalid" });
    }
  });

  test("a bearer token for this server names the agent and carries its scopes", () => {
    const result = identify(peer(""), NOW_NS, headers({ authorization: "Bearer good.token.sig" }));
    expect(result).toEqual({
      ok: true,
      source: { spiffe_id: BOT, trust_domain: TD, verified: true, via: "bearer", scopes: ["files:read"] },
    });
  });

  test("a bearer token that is refused: 401 invalid_token pointing at the metadata", () => {
    const result = identify(peer(""), NOW_NS, headers({ authorization: "Bearer other.token.sig" }));
    expect(result).toMatchObject({
      ok: false,
      status: 401,
      reason: "token_invalid",
      challenge: `Bearer error="invalid_token", resource_metadata="${METADATA}"`,
    });
  });

  test("no credential at all: 401 with a bare challenge naming the metadata", () => {
    expect(identify(peer(""), NOW_NS, headers())).toMatchObject({
      ok: false,
      status: 401,
      reason: "identity_missing",
      challenge: `Bearer resource_metadata="${METADATA}"`,
    });
    expect(identify(peer(""), NOW_NS, headers({ authorization: "Basic dTpw" }))).toMatchObject({
      ok: false,
      reason: "token_invalid",
    });
  });

  test("a certificate that does not verify is refused even with a good token, and challenged", () => {
    const result = identify(peer("bad"), NOW_NS, headers({ authorization: "Bearer good.token.sig" }));
    expect(result).toMatchObject({ ok: false, status: 401, reason: "certificate_untrusted" });
    expect((result as { challenge?: string }).challenge).toContain("resource_metadata=");
  });

  test("with no token service, a bearer is refused", () => {
    const noBearer = inboundIdentity({
      verifyPeer,
      trustedSidecars: new Set([SIDECAR]),
      bearer: null,
      resourceMetadataUrl: METADATA,
    });
    expect(noBearer(peer(""), NOW_NS, headers({ authorization: "Bearer good.token.sig" }))).toMatchObject({
      ok: false,
      reason: "token_invalid",
    });
  });
});
