/**
 * Why a policy bundle was refused. A refused bundle never replaces the one serving; the code and
 * message end up in the holder's status so an operator sees what was wrong with it.
 */
export type PolicyLoadErrorCode =
  | "bundle_malformed"
  | "bundle_unsigned"
  | "verification_key_missing"
  | "signature_invalid"
  | "bundle_tampered"
  | "manifest_invalid"
  | "entrypoint_missing"
  | "wasm_invalid"
  | "data_invalid"
  | "policy_unsafe";

export class PolicyLoadError extends Error {
  constructor(
    readonly code: PolicyLoadErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "PolicyLoadError";
  }

  /** One line for status pages and logs: `code: message`. */
  describe(): string {
    return `${this.code}: ${this.message}`;
  }
}
