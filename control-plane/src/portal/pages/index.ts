import type { PortalPage } from "../page.js";
import { adminPages } from "./admin/index.js";
import { creatorPages } from "./creator/index.js";
import { endUserPages } from "./end-user/index.js";
import { homePage } from "./home.js";
import { reviewerPages } from "./reviewer/index.js";

/** Every page of the portal: each audience keeps its own list in its own folder. */
export const PORTAL_PAGES: readonly PortalPage[] = [
  homePage,
  ...endUserPages,
  ...creatorPages,
  ...reviewerPages,
  ...adminPages,
];
