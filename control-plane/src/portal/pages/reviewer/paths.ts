import type { Role } from "../../../http/openapi.js";
import { PORTAL_PREFIX } from "../../page.js";

/** Who may use the reviewer pages: the roles of the API's approve and reject operations. */
export const REVIEWER_ROLES: readonly Role[] = ["reviewer", "admin"];

export const reviewPath = (attestationId: string) =>
  `${PORTAL_PREFIX}/reviewer/kya/${encodeURIComponent(attestationId)}`;
