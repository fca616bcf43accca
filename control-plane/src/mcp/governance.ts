import { hasRole, type Principal } from "../http/auth.js";
import { ApiError } from "../http/errors.js";
import type { RegistryEntry } from "../registry/model.js";

/**
 * Who governs an MCP server (its tool rules, the bearer tokens minted for it): an admin, or the
 * server's owner (the registration's `owner` is the caller's OIDC subject). Not reviewers as such:
 * they review KYA evidence, they do not decide who may call a server's tools. Principals carry no
 * team, so team membership grants nothing here (as for the rest of the registry, where a creator
 * changes only what it owns).
 */
export function checkMayGovern(principal: Principal, server: RegistryEntry, what: string): void {
  if (hasRole(principal, "admin") || server.owner === principal.subject) return;
  throw new ApiError("forbidden", `only the MCP server's owner or an admin may ${what}`);
}

/** A server whose rules or tokens are changed must not be archived (409, like other registry changes). */
export function checkNotArchived(server: RegistryEntry): void {
  if (server.status === "archived") throw new ApiError("conflict", "archived MCP servers cannot be changed");
}
