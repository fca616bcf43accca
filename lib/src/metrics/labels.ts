import { createHash } from "node:crypto";

/**
 * Label values that come from the outside world (policy reasons, agent names, users) are capped per
 * label: past `limit` distinct values, new ones are reported as `other`, so a chatty policy or a
 * flood of users can never grow the series count (and the scrape) without bound.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(private readonly limit: number) {}

  of(value: string | null | undefined): string {
    if (value === null || value === undefined || value === "") return "none";
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.limit) return OTHER;
    this.seen.add(value);
    return value;
  }
}

export const OTHER = "other";

/**
 * A user as a label value: the first 16 hex digits of SHA-256 over tenant and user id. Metrics are
 * readable by whoever may scrape; a user id (often an e-mail) is personal data, so it never appears
 * in a label. The hash tells users apart on a dashboard; the audit log maps one back, for those
 * allowed to read it.
 */
export function hashedUser(tenant: string | null, userId: string | null): string {
  if (!userId) return "none";
  return createHash("sha256")
    .update(`${tenant ?? ""}\u0000${userId}`)
    .digest("hex")
    .slice(0, 16);
}
