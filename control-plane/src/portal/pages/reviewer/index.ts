import type { PortalPage } from "../../page.js";

/** The reviewer's pages (issue 21); see ../../README.md "Adding a page". */
export const reviewerPages: readonly PortalPage[] = [];
