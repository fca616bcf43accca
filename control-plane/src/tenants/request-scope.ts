import { AsyncLocalStorage } from "node:async_hooks";
import type { Principal } from "../http/auth.js";

/**
 * The tenant the current API request acts for, for row-level security beneath the API's own checks
 * (lib/src/db/tenant-scope.ts): a token limited to a tenant confines every statement its request
 * runs to that tenant's rows. Platform callers (no tenant claim), the token service and background
 * work run with the process's own scope.
 */
const requestTenant = new AsyncLocalStorage<string>();

export function currentRequestTenant(): string | undefined {
  return requestTenant.getStore();
}

export function runAsPrincipal<T>(principal: Principal | null, work: () => T): T {
  const tenant = principal?.tenant ?? undefined;
  return tenant === undefined ? work() : requestTenant.run(tenant, work);
}
