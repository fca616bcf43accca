import type { PortalPage } from "../../page.js";

/** The creator's pages (issue 21); see ../../README.md "Adding a page". */
export const creatorPages: readonly PortalPage[] = [];
