import { queryString } from "./api-client.js";
import {
  defined,
  integer,
  jsonObject,
  list,
  onePositional,
  requiredText,
  text,
  type CommandContext,
  type CommandSpec,
} from "./command.js";
import { renderRecord, renderTable } from "./table.js";

/** `warden agents ...` and `warden mcp-servers ...`: the registry. */
type Kind = "agents" | "mcp-servers";
type Entry = Record<string, unknown> & { id: string; name: string; status: string };
type Page = { items: Entry[]; next_cursor: string | null };

const FILTERS = ["tenant", "status", "team", "owner", "type", "environment", "capability"] as const;

function columns(kind: Kind) {
  const base = [
    { header: "ID", value: (e: Entry) => e.id },
    { header: "NAME", value: (e: Entry) => e.name },
    { header: "TENANT", value: (e: Entry) => e.tenant },
    { header: "TEAM", value: (e: Entry) => e.team },
    { header: "ENV", value: (e: Entry) => e.environment },
    { header: "STATUS", value: (e: Entry) => e.status },
  ];
  return kind === "mcp-servers"
    ? [
        ...base,
        { header: "SERVICES", value: (e: Entry) => e.external_services },
        { header: "SPIFFE ID", value: (e: Entry) => e.spiffe_id },
      ]
    : [
        ...base,
        { header: "CAPABILITIES", value: (e: Entry) => e.capabilities },
        { header: "SPIFFE ID", value: (e: Entry) => e.spiffe_id },
      ];
}

function show(ctx: CommandContext, entry: Entry): void {
  ctx.io.stdout(ctx.json ? JSON.stringify(entry, null, 2) : renderRecord(entry));
}

/** GET for the current ETag, then the change with If-Match: a concurrent change makes it fail (412) instead of being overwritten. */
async function changeEntry(
  ctx: CommandContext,
  kind: Kind,
  method: "PATCH" | "DELETE",
  body?: Record<string, unknown>,
): Promise<void> {
  const id = onePositional(ctx, "id");
  const client = ctx.client();
  const current = await client.request<Entry>("GET", `/v1/${kind}/${id}`);
  const changed = await client.request<Entry>(method, `/v1/${kind}/${id}`, { body, ifMatch: current.etag });
  show(ctx, changed.body);
}

export function registryCommands(kind: Kind): Record<string, CommandSpec> {
  const services = kind === "mcp-servers";
  const fields: CommandSpec["options"] = {
    owner: { type: "string" },
    team: { type: "string" },
    type: { type: "string" },
    environment: { type: "string" },
    capability: { type: "string", multiple: true },
    metadata: { type: "string" },
    ...(services ? { "external-service": { type: "string", multiple: true } } : {}),
  };
  const status = (to: string): CommandSpec => ({
    usage: `<id>`,
    options: {},
    run: (ctx) => changeEntry(ctx, kind, "PATCH", { status: to }),
  });

  return {
    list: {
      usage: `[--tenant t] [--status s] [--team t] [--owner o] [--type t] [--environment e] [--capability c]${services ? " [--external-service s]" : ""} [--limit n] [--all]`,
      options: {
        ...Object.fromEntries(FILTERS.map((f) => [f, { type: "string" }])),
        ...(services ? { "external-service": { type: "string" } } : {}),
        limit: { type: "string" },
        all: { type: "boolean" },
      },
      async run(ctx) {
        const client = ctx.client();
        const items: Entry[] = [];
        let cursor: string | undefined;
        do {
          const params = {
            ...Object.fromEntries(FILTERS.map((f) => [f, text(ctx.values, f)])),
            external_service: text(ctx.values, "external-service"),
            limit: integer(ctx.values, "limit") ?? 100,
            cursor,
          };
          const page = await client.request<Page>("GET", `/v1/${kind}${queryString(params)}`);
          items.push(...page.body.items);
          cursor = ctx.values.all ? (page.body.next_cursor ?? undefined) : undefined;
        } while (cursor);
        ctx.io.stdout(ctx.json ? JSON.stringify(items, null, 2) : renderTable(columns(kind), items));
      },
    },
    get: {
      usage: "<id>",
      options: {},
      async run(ctx) {
        show(ctx, (await ctx.client().request<Entry>("GET", `/v1/${kind}/${onePositional(ctx, "id")}`)).body);
      },
    },
    create: {
      usage: `--name n --tenant t --team t --type t --environment e [--owner o] [--capability c ...]${services ? " [--external-service s ...]" : ""} [--metadata '{...}']`,
      options: {
        name: { type: "string" },
        tenant: { type: "string" },
        "spiffe-id": { type: "string" },
        ...fields,
      },
      async run(ctx) {
        const body = defined({
          name: requiredText(ctx.values, "name"),
          tenant: requiredText(ctx.values, "tenant"),
          spiffe_id: text(ctx.values, "spiffe-id"),
          owner: text(ctx.values, "owner"),
          team: requiredText(ctx.values, "team"),
          type: requiredText(ctx.values, "type"),
          environment: requiredText(ctx.values, "environment"),
          capabilities: list(ctx.values, "capability"),
          external_services: list(ctx.values, "external-service"),
          metadata: jsonObject(ctx.values, "metadata"),
        });
        show(ctx, (await ctx.client().request<Entry>("POST", `/v1/${kind}`, { body })).body);
      },
    },
    update: {
      usage: `<id> [--owner o] [--team t] [--type t] [--environment e] [--capability c ...]${services ? " [--external-service s ...]" : ""} [--metadata '{...}']`,
      options: fields,
      run: (ctx) =>
        changeEntry(
          ctx,
          kind,
          "PATCH",
          defined({
            owner: text(ctx.values, "owner"),
            team: text(ctx.values, "team"),
            type: text(ctx.values, "type"),
            environment: text(ctx.values, "environment"),
            capabilities: list(ctx.values, "capability"),
            external_services: list(ctx.values, "external-service"),
            metadata: jsonObject(ctx.values, "metadata"),
          }),
        ),
    },
    suspend: status("suspended"),
    activate: status("active"),
    revoke: status("revoked"),
    archive: { usage: "<id>", options: {}, run: (ctx) => changeEntry(ctx, kind, "DELETE") },
  };
}
