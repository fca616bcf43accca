import { z } from "zod";

/**
 * Per-MCP-server tool rules: which agents and teams may call which tools (prompts, resources), at
 * which KYA level, with which delegation scopes, and whether a person must approve each call.
 * Owners set them through the control plane (`PUT /v1/mcp-servers/{name}/tool-rules`, `warden mcp
 * rules set`); authz-server puts them into the policy data as `data.warden.mcp_servers[<name>]`.
 *
 * Keys are an exact name or a prefix ending in "*"; for one name the exact key wins, else the
 * longest matching prefix (lib/src/mcp/visibility.ts decidingRule). A name no key matches follows
 * `default`, which is "deny" unless set: a new tool is not callable until its owner says so.
 */
const names = z.array(z.string().min(1).max(256)).max(256);

export const itemRuleSchema = z
  .object({
    /** Agent names or SPIFFE IDs; "*" any registered agent. With `teams` too, either admits. */
    agents: names.optional(),
    teams: names.optional(),
    /** Lowest KYA level (1 basic, 2 standard, 3 high) a caller needs. */
    min_kya_level: z.number().int().min(1).max(3).optional(),
    /** Delegation scopes the call needs, all of them (e.g. "drive.write" for create_file). */
    scopes: names.optional(),
    /** "required": every call is held until the delegating user or an admin approves it. */
    approval: z.enum(["none", "required"]).optional(),
    /** Record the call's arguments in the audit row (secrets redacted); off: only their digest. */
    audit_arguments: z.boolean().optional(),
    /** An explicit refusal, e.g. `"delete_*": {"deny": true}` under a broader allow. */
    deny: z.boolean().optional(),
  })
  .strict();

const ruleKey = z
  .string()
  .min(1)
  .max(256)
  .refine((key) => !key.slice(0, -1).includes("*"), "only a trailing '*' is a wildcard");

const itemRules = z.record(ruleKey, itemRuleSchema);

export const serverToolRulesSchema = z
  .object({
    default: z.enum(["allow", "deny"]).default("deny"),
    tools: itemRules.default({}),
    prompts: itemRules.default({}),
    resources: itemRules.default({}),
  })
  .strict();

export type ItemRule = z.infer<typeof itemRuleSchema>;
export type ServerToolRules = z.infer<typeof serverToolRulesSchema>;
