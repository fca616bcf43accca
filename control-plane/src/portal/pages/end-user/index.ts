import type { PortalPage } from "../../page.js";

/** The end user's pages: agents and their trust, delegations, connected accounts, activity, approvals. */
export const endUserPages: readonly PortalPage[] = [];
