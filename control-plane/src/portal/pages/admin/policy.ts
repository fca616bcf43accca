import { z } from "zod";
import type { RevisionInForce } from "../../../audit/policy-revision.js";
import { html, type SafeHtml } from "../../html.js";
import type { BundleView } from "./policy-bundle.js";

/**
 * Admin page "Policy": which policy bundle revision the data plane decides with (read from its own
 * decisions in the audit log, so it is what is in force, not what was pushed) and the model
 * allow-lists of the bundle at hand. Model lists are changed in the bundle (policies/data.json) and
 * rolled out with `warden policy build/sign/push`: the bundle is signed with a key the control plane
 * does not hold, so the portal shows them and does not edit them.
 */
const modelList = z.record(z.string(), z.array(z.string()));
const modelsSchema = z
  .object({
    global: modelList.optional(),
    tenants: z.record(z.string(), modelList).optional(),
    teams: z.record(z.string(), modelList).optional(),
    agents: z.record(z.string(), modelList).optional(),
    aliases: z.record(z.string(), z.record(z.string(), z.string())).optional(),
  })
  .passthrough();

export interface ModelRule {
  level: "global" | "tenant" | "team" | "agent";
  /** The tenant, team or agent SPIFFE ID; "" for global. */
  subject: string;
  provider: string;
  models: string[];
}

export interface ModelPolicy {
  rules: ModelRule[];
  aliases: { provider: string; alias: string; model: string }[];
}

/** The model allow-lists of a bundle's data.json (`warden.config.models`), flattened for a table. */
export function modelPolicyOf(data: unknown): ModelPolicy | { error: string } {
  const config = (data as { warden?: { config?: { models?: unknown } } } | null)?.warden?.config;
  const parsed = modelsSchema.safeParse(config?.models ?? {});
  if (!parsed.success)
    return { error: `warden.config.models is malformed: ${parsed.error.issues[0]?.message ?? ""}` };
  const models = parsed.data;
  const rules: ModelRule[] = [];
  const add = (level: ModelRule["level"], subject: string, lists: Record<string, string[]>) => {
    for (const [provider, list] of Object.entries(lists))
      rules.push({ level, subject, provider, models: list });
  };
  add("global", "", models.global ?? {});
  for (const [level, key] of [
    ["tenant", "tenants"],
    ["team", "teams"],
    ["agent", "agents"],
  ] as const)
    for (const [subject, lists] of Object.entries(models[key] ?? {})) add(level, subject, lists);
  const aliases = Object.entries(models.aliases ?? {}).flatMap(([provider, map]) =>
    Object.entries(map).map(([alias, model]) => ({ provider, alias, model })),
  );
  return { rules, aliases };
}

export function renderRevision(force: RevisionInForce): SafeHtml {
  if (!force.latest)
    return html`<p>
      No authorization decision has been audited yet, so no revision is known to be in force.
    </p>`;
  return html`<dl class="summary">
      <dt>Revision in force</dt>
      <dd><code>${force.latest.revision ?? "(bundle without a revision)"}</code></dd>
      <dt>Last decision with it</dt>
      <dd><time datetime="${force.latest.last_seen}">${force.latest.last_seen}</time></dd>
    </dl>
    ${
      force.recent.length > 1
        ? html`<p role="status">
            A rollout is under way: the latest ${force.window} decisions used ${force.recent.length}
            revisions.
          </p>`
        : ""
    }
    <table class="data-table">
      <caption>
        Revisions in the latest ${force.window} decisions
      </caption>
      <thead>
        <tr>
          <th scope="col">Revision</th>
          <th scope="col" class="num">Decisions</th>
          <th scope="col">Last seen (UTC)</th>
        </tr>
      </thead>
      <tbody>
        ${force.recent.map(
          (r) =>
            html`<tr>
              <td><code>${r.revision ?? "(none)"}</code></td>
              <td class="num">${r.decisions}</td>
              <td>${r.last_seen}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}

const LEVEL_LABEL: Record<ModelRule["level"], string> = {
  global: "Everyone",
  tenant: "Tenant",
  team: "Team",
  agent: "Agent",
};

export function renderModelPolicy(policy: ModelPolicy | { error: string } | null): SafeHtml {
  if (policy === null)
    return html`<p>
      Model allow-lists are part of the signed policy bundle (<code>warden.config.models</code> in
      <code>policies/data.json</code>): change them there and roll out with <code>warden policy build</code>,
      <code>sign</code> and <code>push</code>. The control plane is not given the bundle, so they are not listed here.
    </p>`;
  if ("error" in policy) return html`<p role="alert">${policy.error}</p>`;
  return html`<p>
      A model is allowed when every level that lists the provider admits it (deny beats allow).
    </p>
    <table class="data-table">
      <caption>
        Model allow-lists
      </caption>
      <thead>
        <tr>
          <th scope="col">Applies to</th>
          <th scope="col">Provider</th>
          <th scope="col">Allowed models</th>
        </tr>
      </thead>
      <tbody>
        ${policy.rules.map(
          (r) =>
            html`<tr>
              <td>${LEVEL_LABEL[r.level]}${r.subject ? html` <code>${r.subject}</code>` : ""}</td>
              <td>${r.provider}</td>
              <td>${r.models.length ? r.models.join(", ") : html`<em>none</em>`}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${
      policy.aliases.length
        ? html`<table class="data-table">
            <caption>
              Model aliases
            </caption>
            <thead>
              <tr>
                <th scope="col">Provider</th>
                <th scope="col">Alias</th>
                <th scope="col">Model</th>
              </tr>
            </thead>
            <tbody>
              ${policy.aliases.map(
                (a) =>
                  html`<tr>
                    <td>${a.provider}</td>
                    <td>${a.alias}</td>
                    <td>${a.model}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : ""
    }`;
}

const HOW_TO_CHANGE = html`<p>
  How to change this: model lists are edited by policy authors in <code>policies/data.json</code>
  (<code>warden.config.models</code>), then built, signed and rolled out with
  <code>warden policy build</code>, <code>warden policy sign</code> and <code>warden policy push</code>.
  The portal does not edit them: the bundle is signed with a key the control plane does not hold.
</p>`;

/** The model section of the policy page, from the verified bundle (or why there is none). */
export function renderBundleModels(view: BundleView | null): SafeHtml {
  if (view === null) return renderModelPolicy(null);
  if (!view.ok)
    return html`<div class="error" role="alert">
        <p>
          <strong>The policy bundle was refused, so its model lists are not shown:</strong>
          ${view.refused}.
        </p>
        <p>Only a bundle whose signature verifies with the policy signing key is listed here.</p>
      </div>
      ${HOW_TO_CHANGE}`;
  return html`<dl class="summary">
      <dt>Bundle</dt>
      <dd><code>${view.source}</code></dd>
      <dt>Bundle revision</dt>
      <dd><code class="bundle-revision">${view.revision ?? "(none)"}</code></dd>
      <dt>Signature</dt>
      <dd>verified</dd>
    </dl>
    ${renderModelPolicy(view.policy)} ${HOW_TO_CHANGE}`;
}
