import type { Queryable } from "../../../../../lib/src/db/types.js";
import { usageReport, type UsageFilter } from "../../../usage/query.js";
import { MAX_SERIES } from "./chart.js";
import { TOP_SPENDERS, type UsageBy, type UsageData, type UsageSelection } from "./usage.js";

/** The usage API's filter field for each dimension the page groups by. */
const FILTER_OF: Record<UsageBy, "agent" | "user_id" | "team"> = {
  agent: "agent",
  user: "user_id",
  team: "team",
};

/**
 * The reports behind the usage page, through the usage API's own query: the selection per day, its
 * top spenders, and the leading spenders per day (each an indexed, filtered query).
 */
export async function loadUsage(db: Queryable, selection: UsageSelection): Promise<UsageData> {
  const filter: UsageFilter = {
    tenant: selection.tenant,
    from: selection.from.toISOString(),
    to: selection.to.toISOString(),
  };
  const days = Math.round((selection.to.getTime() - selection.from.getTime()) / 86_400_000);
  const [total, top] = await Promise.all([
    usageReport(db, filter, ["day"], days),
    usageReport(db, filter, [selection.by], TOP_SPENDERS),
  ]);
  const leaderKeys = top.groups
    .map((g) => g.key[selection.by])
    .filter((key): key is string => key !== null && key !== undefined)
    .slice(0, MAX_SERIES - 1);
  const leaders = await Promise.all(
    leaderKeys.map(async (key) => ({
      key,
      daily: await usageReport(db, { ...filter, [FILTER_OF[selection.by]]: key }, ["day"], days),
    })),
  );
  return { selection, total, top, leaders };
}
