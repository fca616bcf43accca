import type { PortalPage } from "../../page.js";

/** The admin's pages (issue 21); see ../../README.md "Adding a page". */
export const adminPages: readonly PortalPage[] = [];
