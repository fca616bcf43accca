import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Queryable } from "../../../lib/src/db/types.js";
import { ApiError } from "../http/errors.js";
import { findTenant } from "./repository.js";

/** Methods that change nothing. */
const READS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);
/** The tenant lifecycle itself: a platform administrator resumes (or re-suspends) a suspended tenant. */
const LIFECYCLE: ReadonlySet<string> = new Set(["createTenant", "suspendTenant", "resumeTenant"]);

/**
 * The tenant a state-changing request acts for: the token's tenant claim, else the `tenant` it names
 * in its body or query (a platform operator acting for one tenant). null: none named (a platform
 * operator addressing a resource by id only; see docs/tenancy.md).
 */
export function targetTenant(request: Pick<FastifyRequest, "principal" | "body" | "query">): string | null {
  if (request.principal?.tenant) return request.principal.tenant;
  for (const part of [request.body, request.query]) {
    if (typeof part !== "object" || part === null || Array.isArray(part)) continue;
    const tenant = (part as Record<string, unknown>).tenant;
    if (typeof tenant === "string" && tenant !== "") return tenant;
  }
  return null;
}

/**
 * A suspended tenant is frozen: every authenticated request that would change its state is refused
 * with 409 `conflict` ("tenant … is suspended"), before its handler runs; reads still work, and the
 * lifecycle operations (resume) are not held back. One indexed read per state-changing request.
 */
export function refuseChangesOfSuspendedTenants(app: FastifyInstance, db: Queryable): void {
  app.addHook("preHandler", async (request) => {
    if (READS.has(request.method) || !request.principal) return;
    const operationId = (request.routeOptions.config as { operationId?: string }).operationId;
    if (operationId === undefined || LIFECYCLE.has(operationId)) return;
    const tenant = targetTenant(request);
    if (tenant === null) return;
    const row = await findTenant(db, tenant);
    if (row?.status !== "suspended") return;
    throw new ApiError(
      "conflict",
      `tenant ${tenant} is suspended: nothing of it can change until a platform administrator resumes it`,
      [{ field: "tenant", message: "is suspended" }],
    );
  });
}
