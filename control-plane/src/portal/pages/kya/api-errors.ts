import { PortalApiError } from "../../api-client.js";
import { formErrorsFrom, type FieldMapping, type FieldSpec, type FormState } from "../../forms/form.js";

/**
 * The API's refusals a person can fix on the form (bad input, a conflict, a rule of the workflow)
 * become errors on that form; anything else (signed out, unavailable) goes to the portal's error page.
 */
const FIXABLE = new Set([400, 403, 404, 409, 412]);

export function formStateFromApiError(
  error: unknown,
  values: FormState["values"],
  fields: readonly FieldSpec[],
  mapping?: FieldMapping,
): FormState {
  if (!(error instanceof PortalApiError) || !FIXABLE.has(error.status)) throw error;
  return { values, ...formErrorsFrom(error, fields, mapping) };
}
