import { html, type SafeHtml } from "../../html.js";
import { SECURITY_CHECKLIST } from "../creator/forms.js";
import type { ApiAttestation } from "./api-types.js";

/** A submission's evidence as the reviewer weighs it and the creator sent it. */
export function evidenceFacts(attestation: ApiAttestation): SafeHtml {
  const { evidence } = attestation;
  const list = (items: readonly string[]) =>
    items.length
      ? html`<ul>
          ${items.map((item) => html`<li><code>${item}</code></li>`)}
        </ul>`
      : html`none`;
  return html`<dl class="facts">
    <dt>Image digest</dt>
    <dd>${evidence.image_digest ? html`<code>${evidence.image_digest}</code>` : "—"}</dd>
    <dt>Code hash</dt>
    <dd>${evidence.code_hash ? html`<code>${evidence.code_hash}</code>` : "—"}</dd>
    <dt>Declared capabilities</dt>
    <dd>${list(attestation.declared_capabilities)}</dd>
    <dt>Endpoints it calls</dt>
    <dd>${list(evidence.endpoints)}</dd>
    <dt>Security checklist</dt>
    <dd>
      <ul class="checklist">
        ${SECURITY_CHECKLIST.map(
          (item) =>
            html`<li>
              ${
                evidence.security_checklist[item.name]
                  ? html`<span class="badge good">Yes</span>`
                  : html`<span class="badge bad">No</span>`
              }
              ${item.label}
            </li>`,
        )}
      </ul>
    </dd>
    <dt>Notes</dt>
    <dd>${evidence.notes ?? "—"}</dd>
    <dt>Submitted</dt>
    <dd>by ${attestation.submitted_by} on ${attestation.submitted_at.slice(0, 16).replace("T", " ")} UTC</dd>
  </dl>`;
}
