import type { ZodIssue } from "zod";
import { serverToolRulesSchema, type ServerToolRules } from "../../../lib/src/mcp/tool-rules.js";
import type { FieldProblem } from "../http/validation.js";

/**
 * Tool rules as the API takes them: the whole document, checked with the shared schema
 * (lib/src/mcp/tool-rules.ts) so the control plane, the CLI and authz-server agree on what is valid,
 * with every problem named by its path the way the owner wrote it (`tools["create_file"].approval`).
 * Pure, and free of server modules: the CLI checks a file with it before sending it.
 */
const ITEM_SECTIONS = new Set(["tools", "prompts", "resources"]);

/** `tools["create_file"].agents[0]`: record keys in brackets (they may hold any character), indices too. */
export function rulePath(path: readonly (string | number)[]): string {
  let out = "";
  path.forEach((segment, index) => {
    const isKey = index === 1 && ITEM_SECTIONS.has(String(path[0]));
    if (typeof segment === "number") out += `[${segment}]`;
    else if (isKey) out += `[${JSON.stringify(segment)}]`;
    else out += out === "" ? segment : `.${segment}`;
  });
  return out || "body";
}

function oneOf(options: readonly unknown[]): string {
  const quoted = options.map((o) => JSON.stringify(o));
  return quoted.length > 1 ? `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)!}` : (quoted[0] ?? "");
}

function sizeMessage(issue: ZodIssue & { code: "too_small" | "too_big" }): string {
  const bound = issue.code === "too_small" ? "at least" : "at most";
  const limit = Number(issue.code === "too_small" ? issue.minimum : issue.maximum);
  if (issue.type === "string") return `must be ${bound} ${limit} character${limit === 1 ? "" : "s"} long`;
  if (issue.type === "array") return `must have ${bound} ${limit} entr${limit === 1 ? "y" : "ies"}`;
  return `must be ${bound} ${limit}`;
}

/** One problem per wrong field (an unknown field each on its own line). */
export function toolRuleProblems(issues: readonly ZodIssue[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const issue of issues) {
    switch (issue.code) {
      case "unrecognized_keys":
        for (const key of issue.keys)
          problems.push({ field: rulePath([...issue.path, key]), message: "is not a known field" });
        continue;
      case "invalid_enum_value":
        problems.push({ field: rulePath(issue.path), message: `expected ${oneOf(issue.options)}` });
        continue;
      case "invalid_type":
        problems.push({
          field: rulePath(issue.path),
          message:
            issue.received === "undefined"
              ? "is required"
              : `expected ${issue.expected}, got ${issue.received}`,
        });
        continue;
      case "too_small":
      case "too_big":
        problems.push({ field: rulePath(issue.path), message: sizeMessage(issue) });
        continue;
      default:
        problems.push({ field: rulePath(issue.path), message: issue.message });
    }
  }
  return problems;
}

export type ToolRulesCheck = { ok: true; rules: ServerToolRules } | { ok: false; problems: FieldProblem[] };

/** The document with its defaults filled in, or every wrong field. */
export function checkToolRules(document: unknown): ToolRulesCheck {
  const parsed = serverToolRulesSchema.safeParse(document);
  return parsed.success
    ? { ok: true, rules: parsed.data }
    : { ok: false, problems: toolRuleProblems(parsed.error.issues) };
}

/** `field: message; ...`, how both the API's message and the CLI name the problems. */
export const describeProblems = (problems: readonly FieldProblem[]) =>
  problems.map((p) => `${p.field}: ${p.message}`).join("; ");

export interface RuleReferences {
  /** Agent names or SPIFFE IDs named by some rule ("*" left out), with where. */
  agents: Map<string, string[]>;
  teams: Map<string, string[]>;
}

/** The agents and teams the rules name, each with the fields that name it. */
export function ruleReferences(rules: ServerToolRules): RuleReferences {
  const refs: RuleReferences = { agents: new Map(), teams: new Map() };
  const note = (map: Map<string, string[]>, value: string, field: string) =>
    map.set(value, [...(map.get(value) ?? []), field]);
  for (const section of ["tools", "prompts", "resources"] as const) {
    for (const [key, rule] of Object.entries(rules[section])) {
      rule.agents?.forEach((agent, i) => {
        if (agent !== "*") note(refs.agents, agent, rulePath([section, key, "agents", i]));
      });
      rule.teams?.forEach((team, i) => note(refs.teams, team, rulePath([section, key, "teams", i])));
    }
  }
  return refs;
}

/** Warnings (not errors: rules may come before the agents) for names no registered agent or team has. */
export function unknownReferenceWarnings(
  refs: RuleReferences,
  known: { agents: ReadonlySet<string>; teams: ReadonlySet<string> },
  tenant: string,
): FieldProblem[] {
  const warnings: FieldProblem[] = [];
  for (const [agent, fields] of refs.agents)
    if (!known.agents.has(agent))
      for (const field of fields)
        warnings.push({ field, message: `no agent "${agent}" is registered in tenant ${tenant} (yet)` });
  for (const [team, fields] of refs.teams)
    if (!known.teams.has(team))
      for (const field of fields)
        warnings.push({
          field,
          message: `no agent of team "${team}" is registered in tenant ${tenant} (yet)`,
        });
  return warnings;
}
