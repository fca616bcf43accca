import type { Role } from "../../../http/openapi.js";
import { PORTAL_PREFIX } from "../../page.js";
import type { ApiEntry } from "../kya/api-types.js";

/** Who may use the creator pages: the roles of the API's create and submit operations. */
export const CREATOR_ROLES: readonly Role[] = ["creator", "admin"];

/** The status page of one of the creator's agents or MCP servers. */
export const creatorPath = (entry: Pick<ApiEntry, "kind" | "id">) =>
  `${PORTAL_PREFIX}/creator/${entry.kind === "agent" ? "agents" : "mcp-servers"}/${encodeURIComponent(entry.id)}`;
