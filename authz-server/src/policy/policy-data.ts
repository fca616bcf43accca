import { z } from "zod";

/**
 * The shape of the bundle's data.json (`data.warden.config`), checked when a bundle is loaded.
 * The Rego treats a field it does not understand as "does not match"; for a deny rule that would
 * mean a typo silently stops denying, so such a bundle is refused here instead of served.
 */
const names = z.array(z.string().min(1));
const accessClass = z.enum(["read", "write"]);
const kind = z.enum(["llm", "saas", "tool", "mcp"]);

const serviceSchema = z
  .object({
    kind,
    hosts: names.optional(),
    path_prefixes: names.optional(),
    delegation: z.enum(["required", "optional"]).optional(),
    scopes: z.object({ read: names.optional(), write: names.optional() }).strict().optional(),
    capability: z.string().min(1).optional(),
    /** The lowest KYA attestation level (1 basic, 2 standard, 3 high) an agent needs to call it. */
    min_kya_level: z.number().int().min(1).max(3).optional(),
  })
  .strict();

const tierRuleSchema = z
  .object({
    id: z.string().min(1),
    effect: z.enum(["allow", "deny"]),
    match: z
      .object({
        services: names,
        kinds: names,
        access: z.array(accessClass),
        methods: names,
        paths: z.array(z.string().startsWith("/")),
        capabilities: names,
        models: names,
        environments: names,
        tenants: names,
        delegated: z.array(z.boolean()),
      })
      .partial()
      .strict()
      .default({}),
    message: z.string().optional(),
  })
  .strict();

const rulesByName = z.record(z.array(tierRuleSchema));
const modelLists = z.record(names);

export const policyConfigSchema = z
  .object({
    identity: z.object({ trusted_trust_domains: names }).strict(),
    method_access: z.record(accessClass),
    capabilities: z
      .object({ kinds: z.record(z.string().min(1)), mcp_methods: z.record(z.string().min(1)).default({}) })
      .strict(),
    kind_defaults: z.record(serviceSchema).default({}),
    services: z.record(serviceSchema),
    models: z
      .object({
        global: modelLists.optional(),
        tenants: z.record(modelLists).optional(),
        teams: z.record(modelLists).optional(),
        agents: z.record(modelLists).optional(),
        /** Per provider, alias → model (e.g. "fast" → "gpt-4o-mini"); the policy decides on the model. */
        aliases: z.record(z.record(z.string().min(1))).optional(),
        /** Per provider, endpoints that name no model by design (model listing): {method, path or "prefix*"}. */
        endpoints_without_model: z
          .record(
            z.array(
              z.object({ method: z.string().regex(/^[A-Z]+$/), path: z.string().startsWith("/") }).strict(),
            ),
          )
          .optional(),
      })
      .strict()
      .default({}),
    tiers: z
      .object({
        global: z.array(tierRuleSchema).default([]),
        teams: rulesByName.default({}),
        agent_types: rulesByName.default({}),
        agents: rulesByName.default({}),
      })
      .strict(),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    const all = [
      ...config.tiers.global,
      ...Object.values(config.tiers.teams).flat(),
      ...Object.values(config.tiers.agent_types).flat(),
      ...Object.values(config.tiers.agents).flat(),
    ];
    for (const rule of all) {
      if (seen.has(rule.id)) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ["tiers"],
          message: `rule id "${rule.id}" is used twice`,
        });
      }
      seen.add(rule.id);
    }
  });

export const policyDataSchema = z
  .object({ warden: z.object({ config: policyConfigSchema }).passthrough() })
  .passthrough();

export type PolicyConfig = z.infer<typeof policyConfigSchema>;
export type ServiceEntry = z.infer<typeof serviceSchema>;

/** Returns the validated config, or a one-line description of what is wrong. */
export function validatePolicyData(
  data: unknown,
): { ok: true; config: PolicyConfig } | { ok: false; problem: string } {
  const parsed = policyDataSchema.safeParse(data);
  if (parsed.success) return { ok: true, config: parsed.data.warden.config };
  const problem = parsed.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".")}: ${i.message}`)
    .join("; ");
  return { ok: false, problem };
}
