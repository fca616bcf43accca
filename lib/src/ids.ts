import { randomBytes } from "node:crypto";

/** A short, URL-safe, sortable-enough id for decisions and requests (time prefix + randomness). */
export function newDecisionId(): string {
  return `${Date.now().toString(36)}-${randomBytes(9).toString("base64url")}`;
}
