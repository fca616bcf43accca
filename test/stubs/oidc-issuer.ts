import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { freePort } from "../harness/process.js";

/**
 * A stand-in OIDC provider (a third party, so a stub is allowed): serves discovery and JWKS over
 * HTTP on loopback and mints ES256 access tokens with whatever subject, roles and tenant a test
 * needs. `untrustedToken` signs with a key that is not in the JWKS.
 */
export interface TokenClaims {
  sub: string;
  roles?: string[];
  tenant?: string;
  audience?: string;
  issuer?: string;
  expiresInSeconds?: number;
  /** Any other claims (e.g. `realm_access: { roles: [...] }` as Keycloak sends them). */
  extraClaims?: Record<string, unknown>;
}

export class StubOidcIssuer {
  private constructor(
    readonly issuer: string,
    private readonly server: Server,
    private readonly key: CryptoKey,
    private readonly strangerKey: CryptoKey,
    readonly audience: string,
  ) {}

  static async start(audience = "warden-control-plane"): Promise<StubOidcIssuer> {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const stranger = await generateKeyPair("ES256");
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid: "stub-1", alg: "ES256", use: "sig" };
    const server = createServer((request, response) => {
      const routes: Record<string, unknown> = {
        "/.well-known/openid-configuration": {
          issuer,
          jwks_uri: `${issuer}/jwks.json`,
          id_token_signing_alg_values_supported: ["ES256"],
        },
        "/jwks.json": { keys: [jwk] },
      };
      const body = routes[request.url ?? ""];
      response.writeHead(body ? 200 : 404, { "content-type": "application/json" });
      response.end(JSON.stringify(body ?? { error: "not_found" }));
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return new StubOidcIssuer(issuer, server, privateKey, stranger.privateKey, audience);
  }

  token(claims: TokenClaims): Promise<string> {
    return this.sign(claims, this.key, "stub-1");
  }

  untrustedToken(claims: TokenClaims): Promise<string> {
    return this.sign(claims, this.strangerKey, "stub-1");
  }

  private sign(claims: TokenClaims, key: CryptoKey, kid: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      roles: claims.roles ?? [],
      ...(claims.tenant ? { tenant: claims.tenant } : {}),
      ...claims.extraClaims,
    })
      .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt" })
      .setIssuer(claims.issuer ?? this.issuer)
      .setAudience(claims.audience ?? this.audience)
      .setSubject(claims.sub)
      .setIssuedAt(now - 5)
      .setExpirationTime(now + (claims.expiresInSeconds ?? 600))
      .sign(key);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
