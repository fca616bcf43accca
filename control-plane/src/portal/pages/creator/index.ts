import type { PortalPage } from "../../page.js";
import { evidencePages } from "./evidence.js";
import { registerPages } from "./register.js";
import { statusPages } from "./status.js";

/** The creator's pages (issue 21): status of their agents and MCP servers, registering, KYA evidence. */
export const creatorPages: readonly PortalPage[] = [...statusPages, ...registerPages, ...evidencePages];
