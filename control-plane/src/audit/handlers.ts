import { Readable } from "node:stream";
import type { AuditRecord } from "../../../lib/src/audit/chain.js";
import { verifyAuditChain } from "../../../lib/src/audit/verify.js";
import { ApiError } from "../http/errors.js";
import type { AppContext } from "../context.js";
import { scopedTenant } from "../http/auth.js";
import { decodeSequenceCursor } from "../http/cursor.js";
import { afterSequence, readPage } from "../http/page.js";
import { principalOf, type Handlers } from "../http/routes.js";
import { toOcsf } from "../siem/ocsf.js";
import { auditAfterSeq, queryAuditEvents, type AuditFilter } from "./query.js";

const EXPORT_PAGE = 1_000;
/** Events per pull with a cursor when the SIEM names no limit. */
const DEFAULT_PULL = 1_000;

type ExportQuery = AuditFilter & { format: "ndjson" | "ocsf"; cursor?: string; limit?: number };

export function auditHandlers(ctx: AppContext): Handlers {
  return {
    listAuditEvents: async (request) => {
      const query = request.query as AuditFilter & { limit: number; cursor?: string };
      const { limit: _limit, cursor, ...filter } = query;
      const afterId = decodeSequenceCursor("audit", cursor) ?? 0;
      const scoped = { ...filter, tenant: scopedTenant(principalOf(request), filter.tenant) };
      const read = (rows: number) => queryAuditEvents(ctx.db, scoped, afterId, rows);
      return readPage(query, read, (event) => event, afterSequence("audit"));
    },

    exportAuditEvents: async (request, reply) => {
      const { format, cursor, limit, ...filter } = request.query as ExportQuery;
      const tenant = scopedTenant(principalOf(request), filter.tenant);
      const scoped = { ...filter, tenant };
      const line = format === "ocsf" ? (row: AuditRecord) => toOcsf(row) : (row: AuditRecord) => row;
      let read: (after: AuditRecord | undefined) => Promise<AuditRecord[]>;
      if (cursor !== undefined) {
        if (tenant === undefined)
          throw new ApiError("bad_request", "a cursor reads one tenant's chain: name the tenant", [
            { field: "query.tenant", message: "is required with cursor for a token without a tenant claim" },
          ]);
        // The cursor is the tenant's chain position: gap-free and in commit order (audit/query.ts).
        let left = limit ?? DEFAULT_PULL;
        read = async (after) => {
          if (left <= 0) return [];
          const page = await auditAfterSeq(
            ctx.db,
            tenant,
            after?.chain_seq ?? Number(cursor),
            Math.min(left, EXPORT_PAGE),
            filter,
          );
          left -= page.length;
          return page;
        };
      } else {
        if (limit !== undefined)
          throw new ApiError("bad_request", "limit goes with cursor", [
            { field: "query.limit", message: "needs cursor (0 to start at the beginning)" },
          ]);
        read = (after) => queryAuditEvents(ctx.db, scoped, after?.id ?? 0, EXPORT_PAGE);
      }
      // Fetch the first page before answering, so a database failure is still a proper error status.
      const first = await read(undefined);
      async function* lines(): AsyncGenerator<string> {
        let page = first;
        for (;;) {
          if (page.length) yield page.map((row) => `${JSON.stringify(line(row))}\n`).join("");
          if (page.length < EXPORT_PAGE) return;
          page = await read(page[page.length - 1]);
        }
      }
      return reply
        .type("application/x-ndjson")
        .header(
          "content-disposition",
          `attachment; filename="audit${format === "ocsf" ? ".ocsf" : ""}.ndjson"`,
        )
        .send(Readable.from(lines()));
    },

    verifyAuditLog: async (request) => {
      const body = (request.body ?? {}) as { tenant?: string };
      const tenant = scopedTenant(principalOf(request), body.tenant);
      return verifyAuditChain(ctx.db, tenant === undefined ? {} : { tenant });
    },
  };
}
