import { queryString } from "./api-client.js";
import {
  defined,
  integer,
  list,
  onePositional,
  requiredText,
  text,
  usageError,
  type CommandContext,
  type CommandSpec,
  type FlagValues,
} from "./command.js";
import { renderRecord, renderTable } from "./table.js";

/** `warden kya ...`: submit, review and revoke KYA attestations. */
type Attestation = Record<string, unknown> & { id: string; status: string };

export const CHECKLIST_ITEMS = [
  "no_embedded_credentials",
  "dependencies_scanned",
  "least_privilege_scopes",
  "audit_logging",
  "data_retention_policy",
] as const;

function show(ctx: CommandContext, attestation: Attestation): void {
  ctx.io.stdout(ctx.json ? JSON.stringify(attestation, null, 2) : renderRecord(attestation));
}

const reasonCommand = (action: "reject" | "revoke"): CommandSpec => ({
  usage: "<attestation-id> --reason r",
  options: { reason: { type: "string" } },
  async run(ctx) {
    const id = onePositional(ctx, "attestation id");
    show(
      ctx,
      (
        await ctx.client().request<Attestation>("POST", `/v1/attestations/${id}/${action}`, {
          body: { reason: requiredText(ctx.values, "reason") },
        })
      ).body,
    );
  },
});

/** KYA evidence from the flags of `warden kya submit` (also `warden agent add`). */
export function evidenceFrom(values: FlagValues): Record<string, unknown> {
  const checked = new Set(list(values, "checklist") ?? []);
  const unknown = [...checked].filter((item) => !(CHECKLIST_ITEMS as readonly string[]).includes(item));
  if (unknown.length)
    throw usageError(
      `unknown checklist item(s): ${unknown.join(", ")} (known: ${CHECKLIST_ITEMS.join(", ")})`,
    );
  return defined({
    image_digest: text(values, "image-digest"),
    code_hash: text(values, "code-hash"),
    endpoints: list(values, "endpoint") ?? [],
    security_checklist: Object.fromEntries(CHECKLIST_ITEMS.map((item) => [item, checked.has(item)])),
    notes: text(values, "notes"),
  });
}

export const EVIDENCE_OPTIONS = {
  "image-digest": { type: "string" },
  "code-hash": { type: "string" },
  endpoint: { type: "string", multiple: true },
  checklist: { type: "string", multiple: true },
  notes: { type: "string" },
} as const;

export const kyaCommands: Record<string, CommandSpec> = {
  submit: {
    usage: `<agent-id> (--image-digest sha256:… | --code-hash sha256:…) [--endpoint url ...] [--checklist ${CHECKLIST_ITEMS.join(",")}] [--notes text]`,
    options: EVIDENCE_OPTIONS,
    async run(ctx) {
      const agentId = onePositional(ctx, "agent id");
      const evidence = evidenceFrom(ctx.values);
      show(
        ctx,
        (
          await ctx
            .client()
            .request<Attestation>("POST", "/v1/attestations", { body: { agent_id: agentId, evidence } })
        ).body,
      );
    },
  },
  list: {
    usage: "[--agent id] [--status s] [--tenant t] [--limit n]",
    options: {
      agent: { type: "string" },
      status: { type: "string" },
      tenant: { type: "string" },
      limit: { type: "string" },
    },
    async run(ctx) {
      const params = {
        agent_id: text(ctx.values, "agent"),
        status: text(ctx.values, "status"),
        tenant: text(ctx.values, "tenant"),
        limit: integer(ctx.values, "limit") ?? 100,
      };
      const page = await ctx
        .client()
        .request<{ items: Attestation[] }>("GET", `/v1/attestations${queryString(params)}`);
      const columns = [
        { header: "ID", value: (a: Attestation) => a.id },
        { header: "AGENT", value: (a: Attestation) => a.agent_id },
        { header: "STATUS", value: (a: Attestation) => a.status },
        { header: "LEVEL", value: (a: Attestation) => a.level },
        { header: "SUBMITTED BY", value: (a: Attestation) => a.submitted_by },
        { header: "EXPIRES", value: (a: Attestation) => a.expires_at },
      ];
      ctx.io.stdout(
        ctx.json ? JSON.stringify(page.body.items, null, 2) : renderTable(columns, page.body.items),
      );
    },
  },
  get: {
    usage: "<attestation-id>",
    options: {},
    async run(ctx) {
      show(
        ctx,
        (
          await ctx
            .client()
            .request<Attestation>("GET", `/v1/attestations/${onePositional(ctx, "attestation id")}`)
        ).body,
      );
    },
  },
  approve: {
    usage: "<attestation-id> --level 1|2|3 [--capability c ...] [--valid-days n] [--notes text]",
    options: {
      level: { type: "string" },
      capability: { type: "string", multiple: true },
      "valid-days": { type: "string" },
      notes: { type: "string" },
    },
    async run(ctx) {
      const id = onePositional(ctx, "attestation id");
      const level = integer(ctx.values, "level");
      if (level === undefined) throw usageError("--level is required");
      const body = defined({
        level,
        verified_capabilities: list(ctx.values, "capability") ?? [],
        valid_days: integer(ctx.values, "valid-days"),
        notes: text(ctx.values, "notes"),
      });
      show(
        ctx,
        (await ctx.client().request<Attestation>("POST", `/v1/attestations/${id}/approve`, { body })).body,
      );
    },
  },
  reject: reasonCommand("reject"),
  revoke: reasonCommand("revoke"),
};
