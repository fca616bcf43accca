import { resourceUriProblem } from "../registry/resource-uri.js";
import { usageError } from "./cli-error.js";
import type { CommandContext, CommandSpec } from "./command.js";
import * as flags from "./flags.js";
import { fieldColumns, renderRecord, renderTable } from "./table.js";

/** `warden agents ...` and `warden mcp-servers ...`: the registry. */
type Kind = "agents" | "mcp-servers";
type Entry = Record<string, unknown> & { id: string; name: string; status: string };

const FILTERS = ["tenant", "status", "team", "owner", "type", "environment", "capability"] as const;

function columns(kind: Kind) {
  const described = kind === "mcp-servers" ? "external_services" : "capabilities";
  return fieldColumns<Entry>(
    ["id", "name", "tenant", "team", "environment", "status", described, "spiffe_id"],
    { environment: "ENV", external_services: "SERVICES" },
  );
}

/** GET for the current ETag, then the change with If-Match: a concurrent change makes it fail (412) instead of being overwritten. */
async function changeEntry(
  ctx: CommandContext,
  kind: Kind,
  method: "PATCH" | "DELETE",
  body?: Record<string, unknown>,
): Promise<void> {
  const id = flags.onePositional(ctx, "id");
  const client = ctx.client();
  const current = await client.request<Entry>("GET", `/v1/${kind}/${id}`);
  const changed = await client.request<Entry>(method, `/v1/${kind}/${id}`, { body, ifMatch: current.etag });
  ctx.print(changed.body, renderRecord);
}

/** `--resource-uri`: checked here as the API checks it; `none` (on update) removes it. */
export function resourceUri(values: flags.FlagValues, removable = false): string | null | undefined {
  const value = flags.text(values, "resource-uri");
  if (value === undefined) return undefined;
  if (removable && value === "none") return null;
  const problem = resourceUriProblem(value);
  if (problem) throw usageError(`--resource-uri ${problem}`);
  return value;
}

export function registryCommands(kind: Kind): Record<string, CommandSpec> {
  const services = kind === "mcp-servers";
  const fields: CommandSpec["options"] = {
    ...flags.stringFlags("owner", "team", "type", "environment", "metadata"),
    capability: { type: "string", multiple: true },
    ...(services
      ? { "external-service": { type: "string", multiple: true }, "resource-uri": { type: "string" } }
      : {}),
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
        ...flags.stringFlags(...FILTERS, "limit"),
        ...(services ? flags.stringFlags("external-service") : {}),
        all: { type: "boolean" },
      },
      async run(ctx) {
        const params = {
          ...Object.fromEntries(FILTERS.map((f) => [f, flags.text(ctx.values, f)])),
          external_service: flags.text(ctx.values, "external-service"),
          limit: flags.integer(ctx.values, "limit") ?? 100,
        };
        const items = await ctx.client().list<Entry>(`/v1/${kind}`, params, ctx.values.all === true);
        ctx.print(items, (rows) => renderTable(columns(kind), rows));
      },
    },
    get: {
      usage: "<id>",
      options: {},
      async run(ctx) {
        const entry = await ctx
          .client()
          .request<Entry>("GET", `/v1/${kind}/${flags.onePositional(ctx, "id")}`);
        ctx.print(entry.body, renderRecord);
      },
    },
    create: {
      usage: `--name n --tenant t --team t --type t --environment e [--owner o] [--capability c ...]${services ? " [--external-service s ...]" : ""} [--metadata '{...}']`,
      options: { ...flags.stringFlags("name", "tenant", "spiffe-id"), ...fields },
      async run(ctx) {
        const body = flags.defined({
          name: flags.requiredText(ctx.values, "name"),
          tenant: flags.requiredText(ctx.values, "tenant"),
          spiffe_id: flags.text(ctx.values, "spiffe-id"),
          owner: flags.text(ctx.values, "owner"),
          team: flags.requiredText(ctx.values, "team"),
          type: flags.requiredText(ctx.values, "type"),
          environment: flags.requiredText(ctx.values, "environment"),
          capabilities: flags.list(ctx.values, "capability"),
          external_services: flags.list(ctx.values, "external-service"),
          metadata: flags.jsonObject(ctx.values, "metadata"),
          resource_uri: resourceUri(ctx.values),
        });
        ctx.print((await ctx.client().request<Entry>("POST", `/v1/${kind}`, { body })).body, renderRecord);
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
          flags.defined({
            owner: flags.text(ctx.values, "owner"),
            team: flags.text(ctx.values, "team"),
            type: flags.text(ctx.values, "type"),
            environment: flags.text(ctx.values, "environment"),
            capabilities: flags.list(ctx.values, "capability"),
            external_services: flags.list(ctx.values, "external-service"),
            metadata: flags.jsonObject(ctx.values, "metadata"),
            resource_uri: resourceUri(ctx.values, true),
          }),
        ),
    },
    suspend: status("suspended"),
    activate: status("active"),
    revoke: status("revoked"),
    archive: { usage: "<id>", options: {}, run: (ctx) => changeEntry(ctx, kind, "DELETE") },
  };
}
