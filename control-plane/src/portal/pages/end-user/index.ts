import type { PortalPage } from "../../page.js";
import { activityPages } from "./activity.js";
import { agentPages } from "./agents.js";
import { approvalPages } from "./approvals.js";
import { connectionPages } from "./connections.js";
import { delegationPages } from "./delegations.js";

/** The end user's pages: agents and their trust, delegations, connected accounts, activity, approvals. */
export const endUserPages: readonly PortalPage[] = [
  ...agentPages,
  ...delegationPages,
  ...connectionPages,
  ...activityPages,
  ...approvalPages,
];
