import { Readable } from "node:stream";
import { verifyAuditChain } from "../../../lib/src/audit/verify.js";
import type { AppContext } from "../context.js";
import { scopedTenant } from "../http/auth.js";
import { decodeSequenceCursor } from "../http/cursor.js";
import { afterSequence, readPage } from "../http/page.js";
import { principalOf, type Handlers } from "../http/routes.js";
import { queryAuditEvents, type AuditFilter } from "./query.js";

const EXPORT_PAGE = 1_000;

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
      const filter = request.query as AuditFilter;
      const scoped = { ...filter, tenant: scopedTenant(principalOf(request), filter.tenant) };
      // Fetch the first page before answering, so a database failure is still a proper error status.
      const first = await queryAuditEvents(ctx.db, scoped, 0, EXPORT_PAGE);
      async function* lines(): AsyncGenerator<string> {
        let page = first;
        for (;;) {
          if (page.length) yield page.map((row) => `${JSON.stringify(row)}\n`).join("");
          if (page.length < EXPORT_PAGE) return;
          page = await queryAuditEvents(ctx.db, scoped, page[page.length - 1]!.id, EXPORT_PAGE);
        }
      }
      return reply
        .type("application/x-ndjson")
        .header("content-disposition", 'attachment; filename="audit.ndjson"')
        .send(Readable.from(lines()));
    },

    verifyAuditLog: async (request) => {
      const body = (request.body ?? {}) as { tenant?: string };
      const tenant = scopedTenant(principalOf(request), body.tenant);
      return verifyAuditChain(ctx.db, tenant === undefined ? {} : { tenant });
    },
  };
}
