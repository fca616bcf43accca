import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { WardenError } from "../errors.js";

/**
 * Why a Workload API call failed:
 * - `no_identity`: the agent attested the caller but no registration entry matches it (never
 *   registered, or its entry was deleted); the agent answers PermissionDenied "no identity issued".
 * - `invalid_token`: ValidateJWTSVID rejected the token (signature, expiry, audience).
 * - `unavailable`: agent not reachable, timed out, or answered something unexpected.
 */
export type WorkloadApiFailure = "no_identity" | "invalid_token" | "unavailable";

export class WorkloadApiError extends WardenError {
  constructor(
    readonly failure: WorkloadApiFailure,
    message: string,
    readonly grpcCode?: GrpcStatus,
  ) {
    super(failure === "invalid_token" ? "unauthenticated" : "unavailable", message);
    this.name = "WorkloadApiError";
  }
}

export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === "number";
}

export function workloadApiErrorFrom(error: unknown, call: string): WorkloadApiError {
  if (error instanceof WorkloadApiError) return error;
  if (!isServiceError(error)) return new WorkloadApiError("unavailable", `${call}: ${String(error)}`);
  const detail = `${call}: ${error.details || error.message}`;
  if (error.code === GrpcStatus.PERMISSION_DENIED)
    return new WorkloadApiError("no_identity", detail, error.code);
  return new WorkloadApiError("unavailable", detail, error.code);
}
