import { StubOidcIssuer } from "../../../test/stubs/oidc-issuer.js";
import { createOidcAuthenticator, rolesFrom, scopedTenant, type Principal } from "./auth.js";

let issuer: StubOidcIssuer;
beforeAll(async () => {
  issuer = await StubOidcIssuer.start();
});
afterAll(() => issuer.close());

describe("bearer token authentication", () => {
  test("a valid token becomes a principal with its known roles and tenant", async () => {
    const auth = createOidcAuthenticator({ issuer: issuer.issuer, audience: issuer.audience });
    const token = await issuer.token({ sub: "alice", roles: ["reviewer", "superuser"], tenant: "acme" });
    const principal = await auth.authenticate(`Bearer ${token}`);
    expect(principal).toEqual({ subject: "alice", roles: new Set(["reviewer"]), tenant: "acme" });
  });

  test("roles can come from a nested claim (Keycloak's realm_access.roles)", async () => {
    const auth = createOidcAuthenticator({
      issuer: issuer.issuer,
      audience: issuer.audience,
      rolesClaim: "realm_access.roles",
    });
    const token = await issuer.token({
      sub: "kc-user",
      extraClaims: { realm_access: { roles: ["viewer", "offline_access"] } },
    });
    expect((await auth.authenticate(`Bearer ${token}`)).roles).toEqual(new Set(["viewer"]));
    expect(rolesFrom(["admin", "viewer", 3])).toEqual(new Set(["admin", "viewer"]));
    expect(rolesFrom("creator viewer")).toEqual(new Set(["creator", "viewer"]));
  });

  test("a token from another issuer is refused; an unreachable issuer is 'unavailable', not 'unauthenticated'", async () => {
    const auth = createOidcAuthenticator({ issuer: issuer.issuer, audience: issuer.audience });
    const foreign = await issuer.token({ sub: "alice", issuer: "https://elsewhere.example" });
    await expect(auth.authenticate(`Bearer ${foreign}`)).rejects.toMatchObject({ status: 401 });
    await expect(auth.authenticate("Basic dXNlcjpwdw==")).rejects.toMatchObject({ status: 401 });
    const down = createOidcAuthenticator({ issuer: "http://127.0.0.1:9", audience: issuer.audience });
    await expect(down.authenticate(`Bearer ${await issuer.token({ sub: "a" })}`)).rejects.toMatchObject({
      status: 503,
    });
  });

  test("a tenant-limited token cannot ask for another tenant", () => {
    const limited: Principal = { subject: "t", roles: new Set(["admin"]), tenant: "acme" };
    expect(scopedTenant(limited, undefined)).toBe("acme");
    expect(() => scopedTenant(limited, "globex")).toThrow(expect.objectContaining({ status: 403 }));
    expect(scopedTenant({ ...limited, tenant: null }, "globex")).toBe("globex");
  });
});
