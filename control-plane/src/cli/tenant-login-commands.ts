import { createPostgresDatabase } from "../../../lib/src/db/postgres.js";
import type { Queryable } from "../../../lib/src/db/types.js";
import { CliError, usageError } from "./cli-error.js";
import type { CommandContext, CommandSpec } from "./command.js";
import * as flags from "./flags.js";
import { fieldColumns, renderTable } from "./table.js";
import { tenantId } from "./tenant-commands.js";

/**
 * `warden tenants bind-login|unbind-login|logins` (docs/tenancy.md#row-level-security-migration-029):
 * confine a PostgreSQL login to one tenant through `tenant_logins`, so that login reads and writes
 * that tenant's rows only, whatever `warden.tenant` it asks for (a sidecar's data plane dedicated to
 * one tenant). The table belongs to the database owner alone, so these commands talk to PostgreSQL
 * directly as the owner (`--database-url`, else DATABASE_URL), never through the API: no service
 * can change its own binding.
 */
type Binding = { login: string; bound_tenant: string; created_at: string };

/** PostgreSQL role names as Warden creates them: lower-case, no quoting needed. */
const LOGIN = /^[a-z_][a-z0-9_]{0,62}$/;

function loginName(value: string): string {
  if (!LOGIN.test(value))
    throw usageError(
      "a database login is 1 to 63 lower-case letters, digits or `_`, not starting with a digit",
    );
  return value;
}

function twoPositionals(ctx: CommandContext, first: string, second: string): [string, string] {
  if (ctx.positionals.length !== 2) throw usageError(`expected <${first}> <${second}>`);
  return [ctx.positionals[0]!, ctx.positionals[1]!];
}

async function asOwner<T>(ctx: CommandContext, work: (db: Queryable) => Promise<T>): Promise<T> {
  const url = flags.text(ctx.values, "database-url") ?? ctx.io.env.DATABASE_URL;
  if (!url) throw usageError("needs the database owner's URL: --database-url or DATABASE_URL");
  const db = createPostgresDatabase(url, { max: 1, applicationName: "warden-tenant-logins" });
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

const COLUMNS = fieldColumns<Binding>(["login", "bound_tenant", "created_at"], {
  bound_tenant: "TENANT",
  created_at: "BOUND",
});

const OWNER_FLAGS = flags.stringFlags("database-url");

const bindLogin: CommandSpec = {
  usage: "<database-login> <tenant-id> [--database-url url]   (as the database owner)",
  options: OWNER_FLAGS,
  async run(ctx) {
    const [rawLogin, rawTenant] = twoPositionals(ctx, "database-login", "tenant-id");
    const login = loginName(rawLogin);
    const tenant = tenantId(rawTenant);
    const binding = await asOwner(ctx, async (db) => {
      const role = await db.query("SELECT 1 FROM pg_roles WHERE rolname = $1 AND rolcanlogin", [login]);
      if (role.rows.length === 0) throw new CliError(`no database login named ${login}`, 1);
      const known = await db.query<{ status: string }>("SELECT status FROM tenants WHERE id = $1", [tenant]);
      if (known.rows.length === 0)
        throw new CliError(`no tenant ${tenant} (create it first: warden tenants create)`, 1);
      // A login bound to another tenant is moved: one binding per login (the table's key).
      const { rows } = await db.query<Binding>(
        `INSERT INTO tenant_logins (login, bound_tenant) VALUES ($1, $2)
         ON CONFLICT (login) DO UPDATE SET bound_tenant = EXCLUDED.bound_tenant, created_at = now()
         RETURNING login, bound_tenant, created_at::text`,
        [login, tenant],
      );
      return rows[0]!;
    });
    ctx.print(binding, (b) => `login ${b.login} now reads and writes tenant ${b.bound_tenant}'s rows only`);
  },
};

const unbindLogin: CommandSpec = {
  usage: "<database-login> [--database-url url]   (as the database owner)",
  options: OWNER_FLAGS,
  async run(ctx) {
    const login = loginName(flags.onePositional(ctx, "database login"));
    const removed = await asOwner(ctx, async (db) => {
      const { rows } = await db.query<Binding>(
        "DELETE FROM tenant_logins WHERE login = $1 RETURNING login, bound_tenant, created_at::text",
        [login],
      );
      return rows[0] ?? null;
    });
    if (removed === null) throw new CliError(`login ${login} is not bound to a tenant`, 1);
    ctx.print(removed, (b) => `login ${b.login} is no longer bound to tenant ${b.bound_tenant}`);
  },
};

const logins: CommandSpec = {
  usage: "[--database-url url]   (as the database owner)",
  options: OWNER_FLAGS,
  async run(ctx) {
    flags.noPositionals(ctx);
    const rows = await asOwner(
      ctx,
      async (db) =>
        (
          await db.query<Binding>(
            "SELECT login, bound_tenant, created_at::text FROM tenant_logins ORDER BY bound_tenant, login",
          )
        ).rows,
    );
    ctx.print(rows, (items) => renderTable(COLUMNS, items));
  },
};

export const tenantLoginCommands: Record<string, CommandSpec> = {
  "bind-login": bindLogin,
  "unbind-login": unbindLogin,
  logins,
};
