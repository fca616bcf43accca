import { usageError } from "./cli-error.js";
import type { CommandContext, CommandSpec } from "./command.js";
import * as flags from "./flags.js";
import { fieldColumns, renderRecord, renderTable } from "./table.js";

/** `warden kya ...`: submit, review and revoke KYA attestations. */
type Attestation = Record<string, unknown> & { id: string; status: string };

export const CHECKLIST_ITEMS = [
  "no_embedded_credentials",
  "dependencies_scanned",
  "least_privilege_scopes",
  "audit_logging",
  "data_retention_policy",
] as const;

const COLUMNS = fieldColumns<Attestation>(
  ["id", "agent_id", "status", "level", "submitted_by", "expires_at"],
  { agent_id: "AGENT", expires_at: "EXPIRES" },
);

async function showAttestation(ctx: CommandContext, method: "GET" | "POST", path: string, body?: unknown) {
  const attestation = await ctx.client().request<Attestation>(method, `/v1/attestations${path}`, { body });
  ctx.print(attestation.body, renderRecord);
}

const reasonCommand = (action: "reject" | "revoke"): CommandSpec => ({
  usage: "<attestation-id> --reason r",
  options: flags.stringFlags("reason"),
  run: (ctx) =>
    showAttestation(ctx, "POST", `/${flags.onePositional(ctx, "attestation id")}/${action}`, {
      reason: flags.requiredText(ctx.values, "reason"),
    }),
});

/** KYA evidence from the flags of `warden kya submit` (also `warden agent add`). */
export function evidenceFrom(values: flags.FlagValues): Record<string, unknown> {
  const checked = new Set(flags.list(values, "checklist") ?? []);
  const unknown = [...checked].filter((item) => !(CHECKLIST_ITEMS as readonly string[]).includes(item));
  if (unknown.length)
    throw usageError(
      `unknown checklist item(s): ${unknown.join(", ")} (known: ${CHECKLIST_ITEMS.join(", ")})`,
    );
  return flags.defined({
    image_digest: flags.text(values, "image-digest"),
    code_hash: flags.text(values, "code-hash"),
    endpoints: flags.list(values, "endpoint") ?? [],
    security_checklist: Object.fromEntries(CHECKLIST_ITEMS.map((item) => [item, checked.has(item)])),
    notes: flags.text(values, "notes"),
  });
}

export const EVIDENCE_OPTIONS = {
  ...flags.stringFlags("image-digest", "code-hash", "notes"),
  endpoint: { type: "string", multiple: true },
  checklist: { type: "string", multiple: true },
} as const;

export const kyaCommands: Record<string, CommandSpec> = {
  submit: {
    usage: `<agent-id> (--image-digest sha256:… | --code-hash sha256:…) [--endpoint url ...] [--checklist ${CHECKLIST_ITEMS.join(",")}] [--notes text]`,
    options: EVIDENCE_OPTIONS,
    async run(ctx) {
      const agentId = flags.onePositional(ctx, "agent id");
      const evidence = evidenceFrom(ctx.values);
      await showAttestation(ctx, "POST", "", { agent_id: agentId, evidence });
    },
  },
  list: {
    usage: "[--agent id] [--status s] [--tenant t] [--limit n]",
    options: flags.stringFlags("agent", "status", "tenant", "limit"),
    async run(ctx) {
      const params = {
        agent_id: flags.text(ctx.values, "agent"),
        status: flags.text(ctx.values, "status"),
        tenant: flags.text(ctx.values, "tenant"),
        limit: flags.integer(ctx.values, "limit") ?? 100,
      };
      const items = await ctx.client().list<Attestation>("/v1/attestations", params, false);
      ctx.print(items, (rows) => renderTable(COLUMNS, rows));
    },
  },
  get: {
    usage: "<attestation-id>",
    options: {},
    run: (ctx) => showAttestation(ctx, "GET", `/${flags.onePositional(ctx, "attestation id")}`),
  },
  approve: {
    usage: "<attestation-id> --level 1|2|3 [--capability c ...] [--valid-days n] [--notes text]",
    options: {
      ...flags.stringFlags("level", "valid-days", "notes"),
      capability: { type: "string", multiple: true },
    },
    async run(ctx) {
      const id = flags.onePositional(ctx, "attestation id");
      const level = flags.integer(ctx.values, "level");
      if (level === undefined) throw usageError("--level is required");
      const body = flags.defined({
        level,
        verified_capabilities: flags.list(ctx.values, "capability") ?? [],
        valid_days: flags.integer(ctx.values, "valid-days"),
        notes: flags.text(ctx.values, "notes"),
      });
      await showAttestation(ctx, "POST", `/${id}/approve`, body);
    },
  },
  reject: reasonCommand("reject"),
  revoke: reasonCommand("revoke"),
};
