import type { AppContext } from "../context.js";
import { scopedTenant } from "../http/auth.js";
import { ApiError } from "../http/errors.js";
import { principalOf, type Handlers } from "../http/routes.js";
import { usageReport, type UsageDimension, type UsageFilter } from "./query.js";

type UsageQuery = UsageFilter & { group_by?: string; limit: number };

export function usageHandlers(ctx: AppContext): Handlers {
  return {
    getUsage: async (request) => {
      const { group_by: groupText, limit, ...filter } = request.query as UsageQuery;
      const groupBy = groupText === undefined ? [] : (groupText.split(",") as UsageDimension[]);
      if (new Set(groupBy).size !== groupBy.length) {
        throw new ApiError("bad_request", "group_by names a dimension twice", [
          { field: "query.group_by", message: "names a dimension twice" },
        ]);
      }
      if (
        filter.from !== undefined &&
        filter.to !== undefined &&
        Date.parse(filter.from) >= Date.parse(filter.to)
      ) {
        throw new ApiError("bad_request", "from must be before to", [
          { field: "query.from", message: "must be before to" },
        ]);
      }
      const tenant = scopedTenant(principalOf(request), filter.tenant);
      return usageReport(ctx.db, { ...filter, tenant }, groupBy, limit);
    },
  };
}
