import type { ApiAttestation } from "./api-types.js";

/**
 * What a person reads about an agent's KYA: one line for where it stands now, one row per
 * submission for its history. Pure; the pages render the result.
 */
export type Tone = "good" | "bad" | "muted";

export interface KyaSummary {
  text: string;
  tone: Tone;
}

const day = (iso: string | null) => (iso ? iso.slice(0, 10) : "");

/** One submission's outcome, e.g. "Approved at level 2 until 2027-03-08" or "Rejected: reason". */
export function outcomeOf(attestation: ApiAttestation): KyaSummary {
  switch (attestation.status) {
    case "pending":
      return { text: "Waiting for review", tone: "muted" };
    case "approved":
      return {
        text: `Approved at level ${attestation.level} until ${day(attestation.expires_at)}`,
        tone: "good",
      };
    case "expired":
      return {
        text: `Expired on ${day(attestation.expires_at)} (was level ${attestation.level})`,
        tone: "bad",
      };
    case "rejected":
      return { text: `Rejected: ${attestation.rejection_reason ?? "no reason recorded"}`, tone: "bad" };
    case "revoked":
      return { text: `Revoked: ${attestation.revocation_reason ?? "no reason recorded"}`, tone: "bad" };
    case "superseded":
      return { text: `Superseded (was level ${attestation.level})`, tone: "muted" };
  }
}

/**
 * Where an agent stands: its approval in force if any (mentioning a newer submission waiting for
 * review), else its latest submission's outcome, else that it was never submitted.
 * `history` is in submission order, oldest first (the API's order).
 */
export function currentKya(history: readonly ApiAttestation[]): KyaSummary {
  const approved = history.find((a) => a.status === "approved");
  const latest = history[history.length - 1];
  if (!latest) return { text: "Not submitted yet", tone: "muted" };
  if (approved) {
    const summary = outcomeOf(approved);
    return latest.status === "pending" && latest !== approved
      ? { ...summary, text: `${summary.text}; a new submission is waiting for review` }
      : summary;
  }
  return outcomeOf(latest);
}

/** Who decided and when, for the history table. */
export function decisionOf(attestation: ApiAttestation): string {
  if (attestation.revoked_by) return `${attestation.revoked_by}, ${day(attestation.revoked_at)}`;
  if (attestation.reviewed_by) return `${attestation.reviewed_by}, ${day(attestation.reviewed_at)}`;
  return "";
}
