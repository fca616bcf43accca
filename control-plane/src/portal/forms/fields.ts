import { html, type HtmlValue, type SafeHtml } from "../html.js";
import type { FieldSpec, FormState } from "./form.js";

/**
 * Accessible form inputs (the GOV.UK error pattern): every input has a visible label, its hint and
 * error are tied to it with `aria-describedby`, a wrong input is `aria-invalid`, and on a failed
 * submission an error summary at the top takes the focus and links to each wrong input.
 */
const idOf = (name: string) => `f-${name}`;

function described(spec: FieldSpec, errors: readonly string[] | undefined): string {
  const ids = [spec.hint ? `${idOf(spec.name)}-hint` : "", errors?.length ? `${idOf(spec.name)}-error` : ""];
  return ids.filter(Boolean).join(" ");
}

function hintAndError(spec: FieldSpec, errors: readonly string[] | undefined): SafeHtml {
  return html`${spec.hint ? html`<p class="hint" id="${idOf(spec.name)}-hint">${spec.hint}</p>` : ""}${
    errors?.length
      ? html`<p class="field-error" id="${idOf(spec.name)}-error">
          <span class="visually-hidden">Error:</span> ${spec.label} ${errors.join("; ")}
        </p>`
      : ""
  }`;
}

function valueOf(state: FormState, name: string): string {
  const value = state.values[name];
  return value === undefined ? "" : typeof value === "string" ? value : value.join("\n");
}

function chosen(state: FormState, name: string): ReadonlySet<string> {
  const value = state.values[name];
  return new Set(value === undefined ? [] : typeof value === "string" ? [value] : value);
}

/** "There is a problem": focused on load (autofocus) so a screen reader announces it first. */
export function errorSummary(state: FormState, fields: readonly FieldSpec[]): HtmlValue {
  const wrong = fields.filter((field) => state.errors[field.name]?.length);
  if (wrong.length === 0 && state.general.length === 0) return "";
  return html`<div
    class="error-summary"
    role="alert"
    tabindex="-1"
    autofocus
    aria-labelledby="error-summary-title"
  >
    <h2 id="error-summary-title">There is a problem</h2>
    <ul>
      ${state.general.map((message) => html`<li>${message}</li>`)}
      ${wrong.map(
        (field) =>
          html`<li>
            <a href="#${idOf(field.name)}">${field.label} ${state.errors[field.name]!.join("; ")}</a>
          </li>`,
      )}
    </ul>
  </div>`;
}

export interface InputOptions {
  multiline?: boolean;
  required?: boolean;
  type?: "text" | "number" | "url";
  /** Shown instead of the posted value when the form is fresh. */
  placeholder?: string;
}

export function textInput(spec: FieldSpec, state: FormState, options: InputOptions = {}): SafeHtml {
  const errors = state.errors[spec.name];
  const describedBy = described(spec, errors);
  const common = html`id="${idOf(spec.name)}"
  name="${spec.name}"${
    describedBy ? html` aria-describedby="${describedBy}"` : ""
  }${errors?.length ? html` aria-invalid="true"` : ""}${options.required ? html` required` : ""}`;
  const input = options.multiline
    ? html`<textarea ${common} rows="4">${valueOf(state, spec.name)}</textarea>`
    : html`<input type="${options.type ?? "text"}" ${common} value="${valueOf(state, spec.name)}" />`;
  return html`<div class="field${errors?.length ? " invalid" : ""}">
    <label for="${idOf(spec.name)}">${spec.label}</label>
    ${hintAndError(spec, errors)}${input}
  </div>`;
}

export interface Choice {
  value: string;
  label: string;
  description?: string;
}

export function selectInput(spec: FieldSpec, choices: readonly Choice[], state: FormState): SafeHtml {
  const errors = state.errors[spec.name];
  const describedBy = described(spec, errors);
  const selected = valueOf(state, spec.name);
  return html`<div class="field${errors?.length ? " invalid" : ""}">
    <label for="${idOf(spec.name)}">${spec.label}</label>
    ${hintAndError(spec, errors)}
    <select
      id="${idOf(spec.name)}"
      name="${spec.name}"
      ${describedBy ? html` aria-describedby="${describedBy}"` : ""}
      ${errors?.length ? html` aria-invalid="true"` : ""}
    >
      <option value="">Choose…</option>
      ${choices.map(
        (choice) =>
          html`<option value="${choice.value}" ${choice.value === selected ? html` selected` : ""}>
            ${choice.label}
          </option>`,
      )}
    </select>
  </div>`;
}

/** Checkboxes (several) or radio buttons (one) in a fieldset whose legend is the label. */
export function choiceGroup(
  spec: FieldSpec,
  choices: readonly Choice[],
  state: FormState,
  type: "checkbox" | "radio",
): SafeHtml {
  const errors = state.errors[spec.name];
  const describedBy = described(spec, errors);
  const ticked = chosen(state, spec.name);
  return html`<fieldset
    id="${idOf(spec.name)}"
    tabindex="-1"
    class="${errors?.length ? "invalid" : ""}"
    ${describedBy ? html` aria-describedby="${describedBy}"` : ""}
  >
    <legend>${spec.label}</legend>
    ${hintAndError(spec, errors)} ${choices.length === 0 ? html`<p class="muted">None.</p>` : ""}
    ${choices.map(
      (choice, index) =>
        html`<label class="check" for="${idOf(spec.name)}-${index}">
          <input
            type="${type}"
            id="${idOf(spec.name)}-${index}"
            name="${spec.name}"
            value="${choice.value}"
            ${ticked.has(choice.value) ? html` checked` : ""}
          />
          ${choice.label}${choice.description ? html` <span class="muted">(${choice.description})</span>` : ""}
        </label>`,
    )}
  </fieldset>`;
}
