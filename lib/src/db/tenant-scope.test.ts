import { createPgliteDatabase } from "./pglite.js";
import { tenantScopedDatabase, tenantStartupOption } from "./tenant-scope.js";

test("the start-up option names one tenant or every tenant, and nothing that could smuggle another setting", () => {
  expect(tenantStartupOption("acme")).toBe("-c warden.tenant=acme");
  expect(tenantStartupOption("*")).toBe("-c warden.tenant=*");
  for (const bad of ["", "acme -c role=postgres", "a'b", "x".repeat(129)])
    expect(() => tenantStartupOption(bad)).toThrow("not a tenant id");
});

test("a scoped statement runs with the tenant set for its own transaction only", async () => {
  const db = await createPgliteDatabase();
  let tenant: string | undefined = "acme";
  const scoped = tenantScopedDatabase(db, () => tenant);
  const setting = async () =>
    (await scoped.query<{ t: string }>("SELECT current_setting('warden.tenant', true) AS t")).rows[0]!.t;
  try {
    expect(await setting()).toBe("acme");
    expect(
      await scoped.transaction(
        async (tx) =>
          (await tx.query<{ t: string }>("SELECT current_setting('warden.tenant') AS t")).rows[0]!.t,
      ),
    ).toBe("acme");
    tenant = undefined;
    // Back to the session's own scope (every tenant): nothing of the last request is left behind.
    expect(await setting()).toBe("*");
  } finally {
    await db.close();
  }
});
