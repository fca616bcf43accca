import { ApiError } from "../http/errors.js";
import { withIsoDates } from "../http/iso-dates.js";

/** KYA attestations: the workflow rules and the signed claims. Pure; SQL is in repository.ts. */
export type StoredAttestationStatus = "pending" | "approved" | "rejected" | "revoked" | "superseded";
export type AttestationStatus = StoredAttestationStatus | "expired";

export interface Evidence {
  image_digest?: string;
  code_hash?: string;
  endpoints: string[];
  security_checklist: Record<string, boolean>;
  notes?: string;
}

export interface Attestation {
  id: string;
  agent_id: string;
  tenant: string;
  status: StoredAttestationStatus;
  evidence: Evidence;
  declared_capabilities: string[];
  submitted_by: string;
  submitted_at: Date;
  level: number | null;
  verified_capabilities: string[] | null;
  reviewed_by: string | null;
  reviewed_at: Date | null;
  review_notes: string | null;
  rejection_reason: string | null;
  issued_at: Date | null;
  expires_at: Date | null;
  jws: string | null;
  signing_key_id: string | null;
  revoked_by: string | null;
  revoked_at: Date | null;
  revocation_reason: string | null;
  version: number;
  updated_at: Date;
}

export interface ApproveBody {
  level: 1 | 2 | 3;
  verified_capabilities: string[];
  valid_days?: number;
  notes?: string;
}

/** What a client sees: an approval past its expiry is "expired". */
export function effectiveStatus(
  attestation: Pick<Attestation, "status" | "expires_at">,
  now: Date,
): AttestationStatus {
  if (attestation.status === "approved" && attestation.expires_at !== null && attestation.expires_at <= now)
    return "expired";
  return attestation.status;
}

export function checkCanReview(attestation: Attestation, reviewer: string): void {
  if (attestation.status !== "pending")
    throw new ApiError("conflict", `the attestation is ${attestation.status}, not pending`);
  if (attestation.submitted_by === reviewer) {
    throw new ApiError("forbidden", "a submission cannot be reviewed by the person who submitted it");
  }
}

export function checkCanRevoke(attestation: Attestation): void {
  if (attestation.status !== "approved" && attestation.status !== "pending") {
    throw new ApiError(
      "conflict",
      `the attestation is ${attestation.status}; only pending or approved ones can be revoked`,
    );
  }
}

/** Verified capabilities are those of the declared ones the reviewer could confirm. */
export function checkVerifiedCapabilities(declared: readonly string[], verified: readonly string[]): void {
  const known = new Set(declared);
  const problems = verified
    .map((capability, index) => ({ capability, index }))
    .filter(({ capability }) => !known.has(capability))
    .map(({ capability, index }) => ({
      field: `verified_capabilities[${index}]`,
      message: `"${capability}" was not declared`,
    }));
  if (problems.length)
    throw new ApiError("bad_request", "verified capabilities must be declared capabilities", problems);
}

export interface ClaimsInput {
  issuer: string;
  attestation: Attestation;
  agent: { id: string; kind: string; spiffe_id: string; tenant: string };
  approval: ApproveBody;
  reviewer: string;
  issuedAt: Date;
  expiresAt: Date;
}

/** The signed statement: who the workload is, what was verified, by whom, until when. */
export function attestationClaims(input: ClaimsInput): Record<string, unknown> {
  const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
  const { attestation, agent, approval } = input;
  return {
    iss: input.issuer,
    sub: agent.spiffe_id,
    aud: "warden",
    jti: attestation.id,
    iat: seconds(input.issuedAt),
    nbf: seconds(input.issuedAt),
    exp: seconds(input.expiresAt),
    kya: {
      attestation_id: attestation.id,
      agent_id: agent.id,
      kind: agent.kind,
      tenant: agent.tenant,
      level: approval.level,
      verified_capabilities: approval.verified_capabilities,
      declared_capabilities: attestation.declared_capabilities,
      evidence: {
        image_digest: attestation.evidence.image_digest ?? null,
        code_hash: attestation.evidence.code_hash ?? null,
      },
      reviewed_by: input.reviewer,
    },
  };
}

export const ATTESTATION_JWS_TYPE = "kya+jwt";

export function toApi(attestation: Attestation, now: Date): Record<string, unknown> {
  return { ...withIsoDates(attestation), status: effectiveStatus(attestation, now) };
}
