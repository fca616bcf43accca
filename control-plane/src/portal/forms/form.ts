import type { FieldProblem } from "../../http/validation.js";

/**
 * What the creator and reviewer forms share: reading a posted form, turning it into the JSON body
 * of the REST operation behind it, and putting the API's answer back onto the form's fields.
 *
 * The portal never validates on its own: the body goes to the same operation the API serves (same
 * schema, same rules, same audit), and its 400 `details` (field paths such as `capabilities[2]` or
 * `evidence.image_digest`) are mapped back to the inputs the person typed into.
 */
export type PostedForm = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface FieldSpec {
  /** The input's name (and id). */
  name: string;
  label: string;
  /** What a valid value looks like; also replaces the API's regular-expression messages. */
  hint?: string;
}

export interface FormState {
  /** What the person submitted, to render back as typed. */
  values: Readonly<Record<string, string | readonly string[]>>;
  /** Per input name, what is wrong with it. */
  errors: Readonly<Record<string, readonly string[]>>;
  /** Problems that belong to no single input (conflicts, refusals). */
  general: readonly string[];
}

export const emptyForm = (values: FormState["values"] = {}): FormState => ({
  values,
  errors: {},
  general: [],
});

export function hasErrors(state: FormState): boolean {
  return state.general.length > 0 || Object.keys(state.errors).length > 0;
}

/** One value of a field; a repeated field keeps its first value. */
export function textOf(form: PostedForm, name: string): string {
  const value = form[name];
  if (value === undefined) return "";
  return typeof value === "string" ? value : (value[0] ?? "");
}

/** Every value of a field (checkbox groups post one value per ticked box). */
export function valuesOf(form: PostedForm, name: string): string[] {
  const value = form[name];
  if (value === undefined) return [];
  return typeof value === "string" ? [value] : [...value];
}

/** A list typed into a text area: one item per line or comma, blanks dropped. */
export function listOf(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** The trimmed text, or undefined when blank (optional fields are left out of the body). */
export function optionalText(form: PostedForm, name: string): string | undefined {
  const text = textOf(form, name).trim();
  return text === "" ? undefined : text;
}

/**
 * A whole number typed into a field; anything else is passed on as typed, so the API's own check
 * ("must be integer") reports it.
 */
export function numberOrText(text: string): number | string {
  const trimmed = text.trim();
  return /^[0-9]{1,9}$/.test(trimmed) ? Number(trimmed) : trimmed;
}

/** The values posted for the named fields, to render back after an error. */
export function keepValues(form: PostedForm, names: readonly string[]): FormState["values"] {
  const kept: Record<string, string | readonly string[]> = {};
  for (const name of names) {
    const value = form[name];
    if (value !== undefined) kept[name] = value;
  }
  return kept;
}

/** How an API field path maps onto a form: the body prefix the form's fields live under, and aliases. */
export interface FieldMapping {
  /** Stripped from API paths first (`evidence.` for the evidence form). */
  prefix?: string;
  /** API path (after the prefix) → input name, for paths that are not an input's own name. */
  aliases?: Readonly<Record<string, string>>;
  /** List inputs: the parsed items, to name the offending one in the message. */
  lists?: Readonly<Record<string, readonly string[]>>;
}

const ITEM = /^([^[.]+)\[(\d+)\]/;

/** People read "use lower-case letters…", not a regular expression or ajv's wording. */
function friendlyMessage(
  message: string,
  spec: FieldSpec | undefined,
  byName: ReadonlyMap<string, FieldSpec>,
): string {
  if (/^must match pattern/.test(message) && spec?.hint) return `must look like this: ${spec.hint}`;
  if (message === "must NOT have fewer than 1 characters") return "is required";
  const oneOf = /^needs one of: (.+)$/.exec(message);
  if (oneOf) {
    const labels = oneOf[1]!.split(", ").map((name) => byName.get(name)?.label ?? name);
    return `fill in at least one of: ${labels.join(", ")}`;
  }
  const format = /^must match format "([^"]+)"$/.exec(message);
  if (format?.[1] === "uri") return "must be a full URL (https://…)";
  if (format?.[1] === "uuid") return "is not one of the choices";
  if (format) return `must be a valid ${format[1]}`;
  const duplicate = /^must NOT have duplicate items/.exec(message);
  if (duplicate) return "lists the same item twice";
  return message;
}

/**
 * Puts an API error onto the form: each field problem on the input it concerns (with a message a
 * person can act on), anything else in the general list.
 */
export function formErrorsFrom(
  error: { message: string; details?: readonly FieldProblem[] | undefined },
  fields: readonly FieldSpec[],
  mapping: FieldMapping = {},
): Pick<FormState, "errors" | "general"> {
  const byName = new Map(fields.map((field) => [field.name, field]));
  const errors: Record<string, string[]> = {};
  const general: string[] = [];
  for (const problem of error.details ?? []) {
    let path = problem.field;
    if (mapping.prefix && path.startsWith(mapping.prefix)) path = path.slice(mapping.prefix.length);
    const aliased = mapping.aliases?.[path];
    const item = ITEM.exec(path);
    const name = aliased ?? (item ? item[1]! : path);
    const spec = byName.get(name);
    if (!spec) {
      general.push(`${problem.field} ${problem.message}`);
      continue;
    }
    let message = friendlyMessage(problem.message, spec, byName);
    if (item && !aliased) {
      const value = mapping.lists?.[name]?.[Number(item[2])];
      if (value === undefined) message = `item ${Number(item[2]) + 1} ${message}`;
      else if (!message.includes(`"${value}"`)) message = `"${value}" ${message}`;
    }
    const list = (errors[name] ??= []);
    if (!list.includes(message)) list.push(message);
  }
  if (general.length === 0 && Object.keys(errors).length === 0) general.push(error.message);
  return { errors, general };
}
