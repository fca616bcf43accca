import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

/**
 * The reason → error family table, sdk/reasons.json: one file the TypeScript and Python SDKs read, so
 * both raise the same family for the same denial. Loaded once, checked with zod at the boundary.
 */
export const FAMILY_NAMES = [
  "WardenError",
  "IdentityError",
  "AgentStatusError",
  "KyaError",
  "DelegationError",
  "PolicyDeniedError",
  "ApprovalRequiredError",
  "BudgetError",
  "RateLimitedError",
  "UnavailableError",
  "RequestError",
] as const;

export type FamilyName = (typeof FAMILY_NAMES)[number];

const family = z.enum(FAMILY_NAMES);

export const reasonsTableSchema = z.object({
  families: z.record(family, z.string()),
  status_fallback: z.record(z.string().regex(/^\d{3}$/), family),
  jsonrpc_codes: z.record(z.string().regex(/^-?\d+$/), family),
  reasons: z.record(z.string().regex(/^[a-z0-9_]+$/), z.object({ family, status: z.number().int() })),
});

export type ReasonsTable = z.infer<typeof reasonsTableSchema>;

function tablePath(): string {
  // sdk/typescript/src → sdk/reasons.json; compiled: dist/sdk/typescript/src → the same file above dist/.
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, "../../reasons.json"), resolve(here, "../../../../sdk/reasons.json")];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`sdk/reasons.json not found (looked in ${candidates.join(", ")})`);
  return found;
}

let table: ReasonsTable | undefined;

export function reasonsTable(): ReasonsTable {
  table ??= reasonsTableSchema.parse(JSON.parse(readFileSync(tablePath(), "utf8")));
  return table;
}

/**
 * The family of a denial: by its reason code when the table knows it, else by the JSON-RPC code
 * (MCP refusals), else by the HTTP status; WardenError when nothing matches.
 */
export function familyOf(reason: string | null, status: number, jsonRpcCode?: number): FamilyName {
  const t = reasonsTable();
  const byReason = reason ? t.reasons[reason]?.family : undefined;
  if (byReason) return byReason;
  const byCode = jsonRpcCode === undefined ? undefined : t.jsonrpc_codes[String(jsonRpcCode)];
  if (byCode) return byCode;
  return t.status_fallback[String(status)] ?? "WardenError";
}
