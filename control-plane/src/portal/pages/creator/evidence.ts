import { choiceGroup, errorSummary, selectInput, textInput } from "../../forms/fields.js";
import { emptyForm, type FormState } from "../../forms/form.js";
import { html } from "../../html.js";
import { layout, postForm } from "../../layout.js";
import { PORTAL_PREFIX, redirect, type PortalPage, type PortalRequest } from "../../page.js";
import { formStateFromApiError } from "../kya/api-errors.js";
import { KIND_LABEL, type ApiAttestation, type ApiEntry, type ApiPage } from "../kya/api-types.js";
import {
  EVIDENCE_FIELDS,
  SECURITY_CHECKLIST,
  evidenceBody,
  evidenceMapping,
  evidenceValues,
} from "./forms.js";
import { CREATOR_ROLES, creatorPath } from "./paths.js";

/** Submitting KYA evidence for one of the creator's agents or MCP servers (POST /v1/attestations). */
const spec = (name: string) => EVIDENCE_FIELDS.find((field) => field.name === name)!;

/** What the creator may submit for: their own entries that are active or suspended (the API's rule). */
async function submittable(req: PortalRequest): Promise<ApiEntry[]> {
  const owner = req.principal.subject;
  const pages = await Promise.all(
    ["/v1/agents", "/v1/mcp-servers"].map((path) =>
      req.api.get<ApiPage<ApiEntry>>(path, { owner, limit: 500 }),
    ),
  );
  return pages
    .flatMap((page) => page.items)
    .filter((entry) => entry.status === "active" || entry.status === "suspended");
}

async function evidencePage(req: PortalRequest, state: FormState) {
  const entries = await submittable(req);
  return layout(req, {
    title: "Submit KYA evidence",
    body: html`${errorSummary(state, EVIDENCE_FIELDS)}
      <p>
        A reviewer checks this evidence and approves the agent at a trust level, or rejects it with a reason.
      </p>
      ${postForm(
        req,
        `${PORTAL_PREFIX}/creator/kya`,
        html`${selectInput(
          spec("agent_id"),
          entries.map((entry) => ({ value: entry.id, label: `${entry.name} (${KIND_LABEL[entry.kind]})` })),
          state,
        )}
          ${textInput(spec("image_digest"), state)} ${textInput(spec("code_hash"), state)}
          ${textInput(spec("endpoints"), state, { multiline: true })}
          ${choiceGroup(
            spec("checklist"),
            SECURITY_CHECKLIST.map((item) => ({ value: item.name, label: item.label })),
            state,
            "checkbox",
          )}
          ${textInput(spec("notes"), state, { multiline: true })}
          <p><button type="submit">Submit for review</button></p>`,
        { label: "KYA evidence" },
      )}`,
  });
}

export const evidencePages: readonly PortalPage[] = [
  {
    method: "GET",
    path: "/creator/kya/new",
    roles: CREATOR_ROLES,
    handle: (req) => evidencePage(req, emptyForm(req.query.agent_id ? { agent_id: req.query.agent_id } : {})),
  },
  {
    method: "POST",
    path: "/creator/kya",
    roles: CREATOR_ROLES,
    async handle(req) {
      let attestation: ApiAttestation;
      try {
        attestation = await req.api.post<ApiAttestation>("/v1/attestations", evidenceBody(req.form));
      } catch (error) {
        const values = evidenceValues(req.form);
        const state = formStateFromApiError(error, values, EVIDENCE_FIELDS, evidenceMapping(req.form));
        return evidencePage(req, state);
      }
      const entry = (await submittable(req)).find((e) => e.id === attestation.agent_id);
      return redirect(entry ? creatorPath(entry) : `${PORTAL_PREFIX}/creator`, "Submitted for KYA review.");
    },
  },
];
