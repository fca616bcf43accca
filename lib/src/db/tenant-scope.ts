import type { Database, Queryable } from "./types.js";

/**
 * The tenant a database session acts for under row-level security (migration 029, docs/tenancy.md):
 * the setting `warden.tenant`. Missing, PostgreSQL shows no tenant-owned rows at all.
 */
export const TENANT_SETTING = "warden.tenant";
/** Every tenant the login may serve (members of `warden_all_tenants`; a bound login: its own). */
export const ALL_TENANTS = "*";

const TENANT_ID = /^[A-Za-z0-9._-]{1,128}$/;

export function isTenantId(value: string): boolean {
  return TENANT_ID.test(value) && value !== ALL_TENANTS;
}

/** `-c warden.tenant=...` for a connection's start-up packet; refuses anything but a tenant id or "*". */
export function tenantStartupOption(tenant: string): string {
  if (tenant !== ALL_TENANTS && !isTenantId(tenant))
    throw new Error(`not a tenant id: ${JSON.stringify(tenant)}`);
  return `-c ${TENANT_SETTING}=${tenant}`;
}

const SET_LOCAL = `SELECT set_config('${TENANT_SETTING}', $1, true)`;

/**
 * A database whose statements run for the tenant `current()` names, when it names one: each is
 * wrapped in a transaction that sets `warden.tenant` for that transaction only, so a pooled
 * connection never carries one request's tenant into the next. Without a tenant, statements run with
 * the connection's own setting (the process's scope).
 */
export function tenantScopedDatabase(db: Database, current: () => string | undefined): Database {
  async function inScope<T>(tenant: string, work: (tx: Queryable) => Promise<T>): Promise<T> {
    return db.transaction(async (tx) => {
      await tx.query(SET_LOCAL, [tenant]);
      return work(tx);
    });
  }
  return {
    kind: db.kind,
    query<Row>(sql: string, params?: readonly unknown[]) {
      const tenant = current();
      return tenant === undefined
        ? db.query<Row>(sql, params)
        : inScope(tenant, (tx) => tx.query<Row>(sql, params));
    },
    exec(sql: string) {
      const tenant = current();
      return tenant === undefined ? db.exec(sql) : inScope(tenant, (tx) => tx.exec(sql));
    },
    transaction(work) {
      const tenant = current();
      return tenant === undefined ? db.transaction(work) : inScope(tenant, work);
    },
    listen: (channel, handler, options) => db.listen(channel, handler, options),
    close: () => db.close(),
  };
}
