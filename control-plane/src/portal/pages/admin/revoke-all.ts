import {
  boundedTextOf,
  choiceOf,
  result,
  textOf,
  type FieldError,
  type Fields,
  type Parsed,
} from "./form.js";
import { html, type SafeHtml } from "../../html.js";

/**
 * Admin page "Revoke all": the incident button. Step one names what to cut off (every live
 * delegation of an agent, of a user or of a whole tenant) and why; step two shows exactly that and
 * asks again; only the second form (with `confirm=yes`) revokes, through the delegations API's bulk
 * revocation, which the data plane enforces within a second.
 */
export const REVOKE_TARGETS = ["agent", "user", "tenant"] as const;
export type RevokeTarget = (typeof REVOKE_TARGETS)[number];

export interface RevokeRequest {
  target: RevokeTarget;
  /** The agent's registry id (uuid), the user id or the tenant. */
  subject: string;
  reason: string;
  confirmed: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const REASON_MAX = 1024;

export function parseRevokeRequest(fields: Fields): Parsed<RevokeRequest> {
  const errors: FieldError[] = [];
  const target = choiceOf(fields, "target", REVOKE_TARGETS, errors);
  const subject = boundedTextOf(fields, "subject", 512, errors);
  if (subject === undefined) {
    if (!errors.some((e) => e.field === "subject")) errors.push({ field: "subject", message: "is required" });
  } else if (target === "agent" && !UUID.test(subject)) {
    errors.push({ field: "subject", message: "must be the agent's id (a UUID, as on the agent's page)" });
  } else if (target === "tenant" && !SLUG.test(subject)) {
    errors.push({ field: "subject", message: "must be a tenant name (a-z, 0-9, _ and -)" });
  }
  const reason = boundedTextOf(fields, "reason", REASON_MAX, errors);
  if (reason === undefined && !errors.some((e) => e.field === "reason"))
    errors.push({ field: "reason", message: "is required: it goes into the audit log" });
  return result(
    {
      target: target ?? "agent",
      subject: subject ?? "",
      reason: reason ?? "",
      confirmed: textOf(fields, "confirm") === "yes",
    },
    errors,
    fields,
  );
}

/** The delegations API's bulk revocation body for a confirmed request. */
export function bulkRevokeBody(request: RevokeRequest): Record<string, string> {
  const key = request.target === "agent" ? "agent_id" : request.target === "user" ? "user_id" : "tenant";
  return { [key]: request.subject, reason: request.reason };
}

const DESCRIBE: Record<RevokeTarget, string> = {
  agent: "every live delegation given to the agent",
  user: "every live delegation granted by the user",
  tenant: "every live delegation in the tenant",
};

export function describeRevocation(request: Pick<RevokeRequest, "target" | "subject">): string {
  return `${DESCRIBE[request.target]} ${request.subject}`;
}

export function renderRevokeForm(
  csrf: SafeHtml,
  fields: Fields = {},
  errors: readonly FieldError[] = [],
): SafeHtml {
  const errorOf = (name: string) => errors.find((e) => e.field === name)?.message;
  const described = (name: string) =>
    errorOf(name) ? html`aria-invalid="true" aria-describedby="revoke-${name}-error"` : "";
  const message = (name: string) => {
    const error = errorOf(name);
    return error ? html`<span class="field-error" id="revoke-${name}-error">${error}</span>` : "";
  };
  const chosen = fields.target ?? "agent";
  return html`<form method="post" action="/portal/admin/revoke-all" class="stacked-form" novalidate>
    ${errors.length ? html`<p class="form-errors" role="alert">Check the fields marked below.</p>` : ""}
    ${csrf}
    <fieldset>
      <legend>Revoke every live delegation of</legend>
      ${REVOKE_TARGETS.map(
        (t) =>
          html`<p class="choice">
            <input
              type="radio"
              id="revoke-target-${t}"
              name="target"
              value="${t}"
              ${t === chosen ? "checked" : ""}
            /><label for="revoke-target-${t}"
              >${
                t === "agent"
                  ? "an agent (its id)"
                  : t === "user"
                    ? "a user (their user id)"
                    : "a whole tenant"
              }</label
            >
          </p>`,
      )}
    </fieldset>
    <p class="field">
      <label for="revoke-subject">Agent id, user id or tenant</label>
      <input
        id="revoke-subject"
        name="subject"
        value="${fields.subject ?? ""}"
        required
        ${described("subject")}
      />
      ${message("subject")}
    </p>
    <p class="field">
      <label for="revoke-reason">Reason (recorded in the audit log)</label>
      <input
        id="revoke-reason"
        name="reason"
        value="${fields.reason ?? ""}"
        required
        ${described("reason")}
      />
      ${message("reason")}
    </p>
    <p><button type="submit">Review</button></p>
  </form>`;
}

/** Step two: the same request again, as hidden fields, with `confirm=yes`. */
export function renderRevokeConfirmation(csrf: SafeHtml, request: RevokeRequest): SafeHtml {
  return html`<section class="confirm" aria-labelledby="confirm-heading">
    <h2 id="confirm-heading">Confirm revocation</h2>
    <p>
      This revokes <strong>${describeRevocation(request)}</strong>. Agents using them are refused within a
      second, and the users have to grant new delegations. It cannot be undone.
    </p>
    <p>Reason: ${request.reason}</p>
    <form method="post" action="/portal/admin/revoke-all">
      ${csrf}
      <input type="hidden" name="target" value="${request.target}" />
      <input type="hidden" name="subject" value="${request.subject}" />
      <input type="hidden" name="reason" value="${request.reason}" />
      <input type="hidden" name="confirm" value="yes" />
      <p>
        <button type="submit" class="danger">Revoke now</button> <a href="/portal/admin/revoke-all">Cancel</a>
      </p>
    </form>
  </section>`;
}

export function renderRevokeDone(request: RevokeRequest, revoked: number): SafeHtml {
  return html`<section role="status" aria-labelledby="done-heading">
    <h2 id="done-heading">Revoked</h2>
    <p>
      ${revoked} ${revoked === 1 ? "delegation was" : "delegations were"} revoked:
      ${describeRevocation(request)}.
    </p>
    <p><a href="/portal/admin/revoke-all">Revoke something else</a></p>
  </section>`;
}
