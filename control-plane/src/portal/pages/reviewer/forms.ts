import {
  keepValues,
  numberOrText,
  optionalText,
  textOf,
  valuesOf,
  type FieldMapping,
  type FieldSpec,
  type PostedForm,
} from "../../forms/form.js";

/**
 * The reviewer's two decisions on a KYA submission, as inputs and as the bodies of
 * `approveAttestation` and `rejectAttestation`.
 */
export const KYA_LEVELS: readonly { level: 1 | 2 | 3; label: string; description: string }[] = [
  { level: 1, label: "Level 1 — basic", description: "self-declared evidence checked" },
  { level: 2, label: "Level 2 — standard", description: "code or image reviewed" },
  { level: 3, label: "Level 3 — high", description: "security review passed" },
];

export const APPROVE_FIELDS: readonly FieldSpec[] = [
  { name: "level", label: "Trust level" },
  {
    name: "verified_capabilities",
    label: "Verified capabilities",
    hint: "tick the declared capabilities you could confirm",
  },
  {
    name: "valid_days",
    label: "Valid for (days, optional)",
    hint: "1 to 3650; the server's default if blank",
  },
  { name: "notes", label: "Notes (optional)" },
];

export const REJECT_FIELDS: readonly FieldSpec[] = [
  { name: "reason", label: "Reason", hint: "the creator sees this on their status page" },
];

/** The body of `approveAttestation`. A missing level is left out so the API names it as required. */
export function approveBody(form: PostedForm): Record<string, unknown> {
  const body: Record<string, unknown> = { verified_capabilities: valuesOf(form, "verified_capabilities") };
  const level = optionalText(form, "level");
  if (level !== undefined) body.level = numberOrText(level);
  const validDays = optionalText(form, "valid_days");
  if (validDays !== undefined) body.valid_days = numberOrText(validDays);
  const notes = optionalText(form, "notes");
  if (notes !== undefined) body.notes = notes;
  return body;
}

export function approveMapping(form: PostedForm): FieldMapping {
  return { lists: { verified_capabilities: valuesOf(form, "verified_capabilities") } };
}

/** The body of `rejectAttestation`; a reason of only blanks is no reason, the API says it is required. */
export const rejectBody = (form: PostedForm): Record<string, unknown> => ({
  reason: textOf(form, "reason").trim(),
});

export const approveValues = (form: PostedForm) =>
  keepValues(
    form,
    APPROVE_FIELDS.map((field) => field.name),
  );
export const rejectValues = (form: PostedForm) => keepValues(form, ["reason"]);
