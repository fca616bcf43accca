import type { PortalPage } from "../../page.js";
import { queuePage } from "./queue.js";
import { reviewPages } from "./review.js";

/** The reviewer's pages (issue 21): the KYA queue and the review of one submission. */
export const reviewerPages: readonly PortalPage[] = [queuePage, ...reviewPages];
