import type { Database } from "../../lib/src/db/types.js";
import type { AuditWriter } from "../../lib/src/audit/writer.js";
import type { Logger } from "../../lib/src/logger.js";
import type { AttestationSigner } from "./kya/signer.js";

/** What the request handlers need; built once in server.ts. */
export interface AppContext {
  db: Database;
  trustDomain: string;
  attestationTtlDays: number;
  attestationIssuer: string;
  /** null when Vault is not configured: approvals then fail with 503. */
  signer: AttestationSigner | null;
  logger: Logger;
  now: () => Date;
  /** Refusals (401/403/400/404) go to the audit log through this writer (audit/refusals.ts). */
  auditWriter?: Pick<AuditWriter, "append">;
}
