import { ApiError } from "./errors.js";

/**
 * Optimistic concurrency: a resource's ETag is its version; a change names the version it is based
 * on in If-Match, and loses (412) if someone changed the resource meanwhile.
 */
export function etagOf(version: number): string {
  return `"v${version}"`;
}

/** The versions an If-Match header accepts; "any" for `*`; undefined when absent. */
export function parseIfMatch(header: string | string[] | undefined): number[] | "any" | undefined {
  const raw = Array.isArray(header) ? header.join(",") : header;
  if (raw === undefined || raw.trim() === "") return undefined;
  if (raw.trim() === "*") return "any";
  const versions: number[] = [];
  for (const tag of raw.split(",")) {
    const match = /^\s*"v([1-9][0-9]{0,9})"\s*$/.exec(tag); // weak tags never match: If-Match is strong
    if (match) versions.push(Number(match[1]));
  }
  return versions;
}

/** Throws 428 when If-Match is required and missing, 412 when it does not name `currentVersion`. */
export function checkIfMatch(
  header: string | string[] | undefined,
  currentVersion: number,
  required: boolean,
): void {
  const accepted = parseIfMatch(header);
  if (accepted === undefined) {
    if (required)
      throw new ApiError(
        "precondition_required",
        "send If-Match with the ETag of the version you are changing",
      );
    return;
  }
  if (accepted !== "any" && !accepted.includes(currentVersion)) {
    throw new ApiError(
      "precondition_failed",
      `the resource has changed (current ETag ${etagOf(currentVersion)}); fetch it again`,
    );
  }
}
