import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical.js";
import type { AuditEntry } from "./event.js";

/**
 * The per-tenant hash chain. Each row stores the hash of the previous row of its tenant and its own
 * hash: sha256 over the canonical JSON of every stored field (except the global `id`) plus
 * `prev_hash`. Changing, removing or reordering a row breaks the chain at that row.
 */
export const GENESIS_HASH = "0".repeat(64);

export interface ChainFields {
  chain_seq: number;
  recorded_at: string;
  prev_hash: string;
}

export type ChainedEntry = AuditEntry & ChainFields;
export type AuditRecord = ChainedEntry & { id: number; hash: string };

/** The last key list seen and its sorted form: every row of a batch (or a table) has the same keys. */
let lastKeys: string[] = [];
let lastSorted: string[] = [];

function sortedKeys(record: Record<string, unknown>): string[] {
  const keys = Object.keys(record);
  if (keys.length === lastKeys.length && keys.every((key, i) => key === lastKeys[i])) return lastSorted;
  lastKeys = keys;
  lastSorted = keys.filter((key) => key !== "hash" && key !== "id").sort();
  return lastSorted;
}

export function chainHash(entry: ChainedEntry): string {
  const record = entry as unknown as Record<string, unknown>;
  // Built in key order by the store (no id, no hash yet): hashed as it is. Otherwise (rows read
  // back) a copy with keys inserted in sorted order, so canonicalJson takes its native fast path.
  if (!("hash" in record) && !("id" in record))
    return createHash("sha256").update(canonicalJson(record)).digest("hex");
  const hashed: Record<string, unknown> = {};
  for (const key of sortedKeys(record)) hashed[key] = record[key];
  return createHash("sha256").update(canonicalJson(hashed)).digest("hex");
}

export interface ChainHead {
  tenant: string;
  last_seq: number;
  last_hash: string;
}

export type ChainProblemKind = "hash_mismatch" | "prev_hash_mismatch" | "sequence_gap" | "head_mismatch";

export interface ChainProblem {
  tenant: string;
  kind: ChainProblemKind;
  /** The first row that does not verify (null when rows are missing after the last one). */
  id: number | null;
  event_id: string | null;
  chain_seq: number;
  message: string;
}

/** Checks one tenant's rows, fed in chain order; reports the first row that breaks the chain. */
export class ChainVerifier {
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  rows = 0;

  constructor(readonly tenant: string) {}

  check(row: AuditRecord): ChainProblem | null {
    this.rows += 1;
    const at = { tenant: this.tenant, id: row.id, event_id: row.event_id, chain_seq: row.chain_seq };
    if (row.chain_seq !== this.expectedSeq) {
      return {
        ...at,
        kind: "sequence_gap",
        message: `expected chain_seq ${this.expectedSeq}, found ${row.chain_seq} (rows missing)`,
      };
    }
    if (row.prev_hash !== this.prevHash) {
      return {
        ...at,
        kind: "prev_hash_mismatch",
        message: "prev_hash does not match the hash of the previous row",
      };
    }
    if (chainHash(row) !== row.hash) {
      return {
        ...at,
        kind: "hash_mismatch",
        message: "stored hash does not match the row's contents (row altered)",
      };
    }
    this.expectedSeq += 1;
    this.prevHash = row.hash;
    return null;
  }

  /** After the last row: the chain head must point at it (catches rows deleted from the end). */
  finish(head: ChainHead | undefined): ChainProblem | null {
    const lastSeq = this.expectedSeq - 1;
    if (head === undefined) {
      return lastSeq === 0
        ? null
        : {
            tenant: this.tenant,
            kind: "head_mismatch",
            id: null,
            event_id: null,
            chain_seq: lastSeq,
            message: "tenant has rows but no chain head",
          };
    }
    if (head.last_seq !== lastSeq || head.last_hash !== this.prevHash) {
      return {
        tenant: this.tenant,
        kind: "head_mismatch",
        id: null,
        event_id: null,
        chain_seq: lastSeq + 1,
        message: `chain head says ${head.last_seq} rows, found ${lastSeq} intact rows (rows missing at the end)`,
      };
    }
    return null;
  }
}
