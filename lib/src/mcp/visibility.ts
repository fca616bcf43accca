import type { McpItemKind } from "./protocol.js";

/**
 * What a caller may see in a `tools/list`, `prompts/list` or `resources/list` answer. The policy
 * computes it (decision metadata `mcp_visibility` on an allowed list request) from the same tool
 * rules that decide `tools/call`, and extproc-server filters the answer with `isVisible`.
 *
 * Rules are keyed by a pattern: an exact name, or a prefix ending in "*". For one name, the exact
 * rule wins, else the matching pattern with the longest prefix; no matching rule: `default_visible`.
 * Tools must also be covered by one of `capabilities` (tool-name patterns taken from the agent's
 * verified `mcp:` capabilities), as `tools/call` needs that capability.
 */
export interface McpVisibilityRule {
  readonly pattern: string;
  readonly visible: boolean;
}

export interface McpKindVisibility {
  readonly rules: readonly McpVisibilityRule[];
  readonly default_visible: boolean;
}

export interface McpVisibility {
  readonly tools: McpKindVisibility;
  readonly prompts: McpKindVisibility;
  readonly resources: McpKindVisibility;
  readonly capabilities: readonly string[];
}

/** Exact, or a trailing "*" matching any suffix (the policy's wildcard_match). */
export function wildcardMatch(pattern: string, value: string): boolean {
  if (pattern === value) return true;
  return pattern.endsWith("*") && value.startsWith(pattern.slice(0, -1));
}

/** The rule that decides `name`: exact beats pattern, a longer prefix beats a shorter one. */
export function decidingRule(rules: readonly McpVisibilityRule[], name: string): McpVisibilityRule | null {
  let best: McpVisibilityRule | null = null;
  for (const rule of rules) {
    if (rule.pattern === name) return rule;
    if (!rule.pattern.endsWith("*") || !wildcardMatch(rule.pattern, name)) continue;
    if (!best || rule.pattern.length > best.pattern.length) best = rule;
  }
  return best;
}

export function isVisible(visibility: McpVisibility, kind: McpItemKind, name: string): boolean {
  const forKind = visibility[kind];
  const rule = decidingRule(forKind.rules, name);
  const visible = rule ? rule.visible : forKind.default_visible;
  if (!visible) return false;
  return kind !== "tools" || visibility.capabilities.some((pattern) => wildcardMatch(pattern, name));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function kindVisibility(value: unknown): McpKindVisibility | null {
  if (!isRecord(value) || typeof value.default_visible !== "boolean" || !Array.isArray(value.rules))
    return null;
  const rules: McpVisibilityRule[] = [];
  for (const rule of value.rules) {
    if (!isRecord(rule) || typeof rule.pattern !== "string" || typeof rule.visible !== "boolean") return null;
    rules.push({ pattern: rule.pattern, visible: rule.visible });
  }
  return { rules, default_visible: value.default_visible };
}

/**
 * Reads `mcp_visibility` from the policy's decision metadata. null when absent or malformed: the
 * caller then shows nothing (fail closed), never everything.
 */
export function readMcpVisibility(policyMetadata: unknown): McpVisibility | null {
  if (!isRecord(policyMetadata)) return null;
  const raw = policyMetadata.mcp_visibility;
  if (!isRecord(raw) || !Array.isArray(raw.capabilities)) return null;
  const tools = kindVisibility(raw.tools);
  const prompts = kindVisibility(raw.prompts);
  const resources = kindVisibility(raw.resources);
  if (!tools || !prompts || !resources) return null;
  if (!raw.capabilities.every((c): c is string => typeof c === "string")) return null;
  return { tools, prompts, resources, capabilities: raw.capabilities };
}

/** Nothing is visible: what a list answer is filtered with when the metadata is missing. */
export const NOTHING_VISIBLE: McpVisibility = Object.freeze({
  tools: { rules: [], default_visible: false },
  prompts: { rules: [], default_visible: false },
  resources: { rules: [], default_visible: false },
  capabilities: [],
});
