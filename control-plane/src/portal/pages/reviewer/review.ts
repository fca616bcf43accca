import { choiceGroup, errorSummary, textInput } from "../../forms/fields.js";
import { emptyForm, type FieldSpec, type FormState } from "../../forms/form.js";
import { html } from "../../html.js";
import { layout, postForm } from "../../layout.js";
import { PORTAL_PREFIX, redirect, type PortalPage, type PortalRequest } from "../../page.js";
import { formStateFromApiError } from "../kya/api-errors.js";
import { KIND_LABEL, type ApiAttestation } from "../kya/api-types.js";
import { evidenceFacts } from "../kya/evidence.js";
import { outcomeOf } from "../kya/status.js";
import {
  APPROVE_FIELDS,
  KYA_LEVELS,
  REJECT_FIELDS,
  approveBody,
  approveMapping,
  approveValues,
  rejectBody,
  rejectValues,
} from "./forms.js";
import { REVIEWER_ROLES } from "./paths.js";
import { entryOf } from "./queue.js";

/**
 * One submission under review: the evidence, and the two decisions (approve at a level with the
 * capabilities the reviewer could verify, or reject with a reason), each its own form.
 */
const approveSpec = (name: string) => APPROVE_FIELDS.find((field) => field.name === name)!;
const attestationPath = (id: string) => `/v1/attestations/${encodeURIComponent(id)}`;

interface Forms {
  approve: FormState;
  reject: FormState;
}

async function reviewPage(req: PortalRequest, forms: Forms) {
  const attestation = await req.api.get<ApiAttestation>(attestationPath(req.params.id!));
  const entry = await entryOf(req, attestation.agent_id);
  const action = `${PORTAL_PREFIX}/reviewer/kya/${encodeURIComponent(attestation.id)}`;
  const outcome = outcomeOf(attestation);
  const allFields: FieldSpec[] = [...APPROVE_FIELDS, ...REJECT_FIELDS];
  const merged: FormState = {
    values: {},
    errors: { ...forms.approve.errors, ...forms.reject.errors },
    general: [...forms.approve.general, ...forms.reject.general],
  };
  const decisions =
    attestation.status === "pending"
      ? html`<h2>Approve</h2>
          ${postForm(
            req,
            `${action}/approve`,
            html`${choiceGroup(
              approveSpec("level"),
              KYA_LEVELS.map((l) => ({
                value: String(l.level),
                label: l.label,
                description: l.description,
              })),
              forms.approve,
              "radio",
            )}
              ${choiceGroup(
                approveSpec("verified_capabilities"),
                attestation.declared_capabilities.map((capability) => ({
                  value: capability,
                  label: capability,
                })),
                forms.approve,
                "checkbox",
              )}
              ${textInput(approveSpec("valid_days"), forms.approve, { type: "number" })}
              ${textInput(approveSpec("notes"), forms.approve, { multiline: true })}
              <p><button type="submit">Approve and sign</button></p>`,
            { label: "Approve" },
          )}
          <h2>Reject</h2>
          ${postForm(
            req,
            `${action}/reject`,
            html`${textInput(REJECT_FIELDS[0]!, forms.reject, { multiline: true, required: true })}
              <p><button type="submit" class="danger">Reject</button></p>`,
            { label: "Reject" },
          )}`
      : html`<p>This submission has been decided; nothing is left to review.</p>`;
  return layout(req, {
    title: `Review ${entry.name}`,
    body: html`${errorSummary(merged, allFields)}
      <dl class="facts">
        <dt>Status</dt>
        <dd><span class="badge ${outcome.tone}">${outcome.text}</span></dd>
        <dt>${KIND_LABEL[entry.kind]}</dt>
        <dd><code>${entry.spiffe_id}</code></dd>
        <dt>Owner / team</dt>
        <dd>${entry.owner} / ${entry.team}</dd>
        <dt>Type / environment</dt>
        <dd>${entry.type} / ${entry.environment}</dd>
      </dl>
      <h2>Evidence</h2>
      ${evidenceFacts(attestation)} ${decisions}
      <p><a href="${PORTAL_PREFIX}/reviewer">Back to the queue</a></p>`,
  });
}

/** A decision posted as `form` to the operation `verb`; on a refusal the page again, with the errors on the form. */
function decisionPage(
  verb: "approve" | "reject",
  send: (req: PortalRequest) => Record<string, unknown>,
  refused: (req: PortalRequest, error: unknown) => Forms,
  notice: (name: string, decided: ApiAttestation) => string,
): PortalPage {
  return {
    method: "POST",
    path: `/reviewer/kya/:id/${verb}`,
    roles: REVIEWER_ROLES,
    async handle(req) {
      let decided: ApiAttestation;
      try {
        decided = await req.api.post<ApiAttestation>(`${attestationPath(req.params.id!)}/${verb}`, send(req));
      } catch (error) {
        return reviewPage(req, refused(req, error));
      }
      const entry = await entryOf(req, decided.agent_id);
      return redirect(`${PORTAL_PREFIX}/reviewer`, notice(entry.name, decided));
    },
  };
}

export const reviewPages: readonly PortalPage[] = [
  {
    method: "GET",
    path: "/reviewer/kya/:id",
    roles: REVIEWER_ROLES,
    handle: (req) => reviewPage(req, { approve: emptyForm(), reject: emptyForm() }),
  },
  decisionPage(
    "approve",
    (req) => approveBody(req.form),
    (req, error) => ({
      approve: formStateFromApiError(
        error,
        approveValues(req.form),
        APPROVE_FIELDS,
        approveMapping(req.form),
      ),
      reject: emptyForm(),
    }),
    (name, decided) => `Approved ${name} at level ${decided.level}.`,
  ),
  decisionPage(
    "reject",
    (req) => rejectBody(req.form),
    (req, error) => ({
      approve: emptyForm(),
      reject: formStateFromApiError(error, rejectValues(req.form), REJECT_FIELDS),
    }),
    (name, decided) => `Rejected ${name}: ${decided.rejection_reason ?? ""}`,
  ),
];
