import type { UsageReport } from "../../../usage/query.js";
import type { PortalApi } from "../../api-client.js";
import { MAX_SERIES } from "./chart.js";
import { TOP_SPENDERS, type UsageBy, type UsageData, type UsageSelection } from "./usage.js";

/** The usage API's filter parameter for each dimension the page groups by. */
const FILTER_OF: Record<UsageBy, "agent" | "user_id" | "team"> = {
  agent: "agent",
  user: "user_id",
  team: "team",
};

/**
 * The reports behind the usage page, from the usage API: the selection per day, its top spenders,
 * and the leading spenders per day (each a filtered, indexed query).
 */
export async function loadUsage(api: PortalApi, selection: UsageSelection): Promise<UsageData> {
  const filter = {
    tenant: selection.tenant,
    from: selection.from.toISOString(),
    to: selection.to.toISOString(),
  };
  const days = Math.round((selection.to.getTime() - selection.from.getTime()) / 86_400_000);
  const [total, top] = await Promise.all([
    api.get<UsageReport>("/v1/usage", { ...filter, group_by: "day", limit: days }),
    api.get<UsageReport>("/v1/usage", { ...filter, group_by: selection.by, limit: TOP_SPENDERS }),
  ]);
  const leaderKeys = top.groups
    .map((g) => g.key[selection.by])
    .filter((key): key is string => typeof key === "string")
    .slice(0, MAX_SERIES - 1);
  const leaders = await Promise.all(
    leaderKeys.map(async (key) => ({
      key,
      daily: await api.get<UsageReport>("/v1/usage", {
        ...filter,
        [FILTER_OF[selection.by]]: key,
        group_by: "day",
        limit: days,
      }),
    })),
  );
  return { selection, total, top, leaders };
}
