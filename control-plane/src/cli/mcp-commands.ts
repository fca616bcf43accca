import { readFileSync } from "node:fs";
import { checkToolRules, describeProblems } from "../mcp/tool-rules.js";
import { CliError, usageError } from "./cli-error.js";
import type { CommandContext, CommandSpec } from "./command.js";
import { parseTtl, scopesFrom, uuid } from "./delegation-commands.js";
import * as flags from "./flags.js";

/**
 * `warden mcp rules show|set|clear <server>` and `warden mcp token <server>`: an MCP server's owner
 * manages its tool rules (the same schema is checked here before anything is sent) and mints bearer
 * tokens for agents without an SVID. <server> is the server's id or registered name.
 */
type RulesState = {
  server: string;
  rules: Record<string, unknown> | null;
  version: number;
  warnings: { field: string; message: string }[];
};
type Minted = {
  access_token: string;
  expires_at: string;
  scope: string;
  audience: string;
  jti: string;
  agent_spiffe_id: string;
};

const RULE_ACTIONS = ["show", "set", "clear"] as const;
type RuleAction = (typeof RULE_ACTIONS)[number];

const rulesPath = (server: string) => `/v1/mcp-servers/${encodeURIComponent(server)}/tool-rules`;

/** The rules file, parsed and checked with the shared schema: every problem named, nothing sent. */
export function readRulesFile(path: string, read: (path: string) => string = (p) => readFileSync(p, "utf8")) {
  let text: string;
  try {
    text = read(path);
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  const checked = checkToolRules(document);
  if (!checked.ok)
    throw new CliError(
      `${path} is not a valid tool rules document:${checked.problems.map((p) => `\n  ${p.field}: ${p.message}`).join("")}`,
    );
  return document;
}

function renderState(state: RulesState): string {
  const head =
    state.rules === null
      ? `${state.server}: no tool rules (every tool, prompt and resource is denied) — version ${state.version}`
      : `${state.server}: tool rules, version ${state.version}\n${JSON.stringify(state.rules, null, 2)}`;
  return head;
}

function printWarnings(ctx: CommandContext, state: RulesState): void {
  if (state.warnings.length)
    ctx.io.stderr(`warning: ${describeProblems(state.warnings).replace(/; /g, "\nwarning: ")}`);
}

/** GET for the current ETag, then the change with If-Match: a concurrent change fails (412), never lost. */
async function changeRules(ctx: CommandContext, server: string, method: "PUT" | "DELETE", body?: unknown) {
  const client = ctx.client();
  const current = await client.request<RulesState>("GET", rulesPath(server));
  const changed = await client.request<RulesState>(method, rulesPath(server), {
    body,
    ifMatch: current.etag,
  });
  printWarnings(ctx, changed.body);
  ctx.print(changed.body, renderState);
}

const rules: CommandSpec = {
  usage: "show <server> | set <server> --file rules.json | clear <server>",
  options: flags.stringFlags("file"),
  async run(ctx) {
    const [action, server, ...extra] = ctx.positionals;
    if (!RULE_ACTIONS.includes(action as RuleAction))
      throw usageError(`say what to do with the rules: ${RULE_ACTIONS.join(", ")}`);
    if (server === undefined || extra.length) throw usageError("give exactly one MCP server (id or name)");
    const file = flags.text(ctx.values, "file");
    if ((action === "set") !== (file !== undefined))
      throw usageError(action === "set" ? "--file is required" : `--file is only for set`);
    if (action === "show") {
      const state = await ctx.client().request<RulesState>("GET", rulesPath(server));
      return ctx.print(state.body, renderState);
    }
    if (action === "set") return changeRules(ctx, server, "PUT", readRulesFile(file!));
    return changeRules(ctx, server, "DELETE");
  },
};

/** The mint request body, validated before anything is sent. */
export function tokenBody(values: flags.FlagValues) {
  const agent = flags.requiredText(values, "agent");
  const ttl = flags.text(values, "ttl");
  const ttlSeconds = ttl === undefined ? undefined : parseTtl(ttl);
  if (ttlSeconds !== undefined && (ttlSeconds < 60 || ttlSeconds > 3600))
    throw usageError("--ttl must be between 1m and 1h (default 15m)");
  return flags.defined({
    agent_id: /^[0-9a-f-]{36}$/i.test(agent) ? uuid(agent, "--agent") : agent,
    scopes: values.scope === undefined ? undefined : scopesFrom(values),
    ttl_seconds: ttlSeconds,
  });
}

const token: CommandSpec = {
  usage: "<server> --agent <agent id or name> [--scope s ...] [--ttl 15m]",
  options: { ...flags.stringFlags("agent", "ttl"), scope: { type: "string", multiple: true } },
  async run(ctx) {
    const server = flags.onePositional(ctx, "MCP server (id or name)");
    const body = tokenBody(ctx.values);
    const minted = await ctx
      .client()
      .request<Minted>("POST", `/v1/mcp-servers/${encodeURIComponent(server)}/tokens`, { body });
    // The token alone on stdout (TOKEN=$(warden mcp token ...)); what it is on stderr.
    if (ctx.values.json !== true)
      ctx.io.stderr(
        `bearer token for ${minted.body.agent_spiffe_id} at ${minted.body.audience}, scope "${minted.body.scope}", ` +
          `until ${minted.body.expires_at} (jti ${minted.body.jti}; shown once, not stored)`,
      );
    ctx.print(minted.body, (m) => m.access_token);
  },
};

const revokeToken: CommandSpec = {
  usage: "<server> --jti <token id>",
  options: flags.stringFlags("jti"),
  async run(ctx) {
    const server = flags.onePositional(ctx, "MCP server (id or name)");
    const jti = uuid(flags.requiredText(ctx.values, "jti"), "--jti");
    const revoked = await ctx
      .client()
      .request<{ jti: string; revoked_at: string }>(
        "POST",
        `/v1/mcp-servers/${encodeURIComponent(server)}/tokens/revoke`,
        { body: { jti } },
      );
    ctx.print(
      revoked.body,
      (r) => `token ${r.jti} revoked at ${r.revoked_at}; sidecars refuse it within a second`,
    );
  },
};

export const mcpCommands: Record<string, CommandSpec> = { rules, token, "revoke-token": revokeToken };
