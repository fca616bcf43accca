/**
 * Form and query-string parsing for the admin pages: every field is checked where it enters, and a
 * wrong value comes back as a message next to that field (the page is shown again with the values
 * the admin typed), never as an exception. Pure.
 */
export type Fields = Readonly<Record<string, string | undefined>>;

export interface FieldError {
  field: string;
  message: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: FieldError[]; fields: Fields };

/** Trimmed text, or undefined when the field is missing or blank. */
export function textOf(fields: Fields, name: string): string | undefined {
  const value = fields[name]?.trim();
  return value ? value : undefined;
}

/** A value from a fixed list, `fallback` when blank; an error when it is something else. */
export function choiceOf<T extends string>(
  fields: Fields,
  name: string,
  choices: readonly T[],
  errors: FieldError[],
  fallback?: T,
): T | undefined {
  const value = textOf(fields, name);
  if (value === undefined) {
    if (fallback === undefined) errors.push({ field: name, message: "is required" });
    return fallback;
  }
  if ((choices as readonly string[]).includes(value)) return value as T;
  errors.push({ field: name, message: `must be one of ${choices.join(", ")}` });
  return fallback;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A calendar day from an `<input type="date">` (YYYY-MM-DD) as midnight UTC. */
export function dayOf(fields: Fields, name: string, errors: FieldError[]): Date | undefined {
  const value = textOf(fields, name);
  if (value === undefined) return undefined;
  const date = new Date(`${value}T00:00:00Z`);
  if (!DAY.test(value) || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) {
    errors.push({ field: name, message: "must be a date (YYYY-MM-DD)" });
    return undefined;
  }
  return date;
}

/** Tenant slugs as the API names them (lib/src/audit/event.ts). */
const SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function tenantOf(fields: Fields, errors: FieldError[], name = "tenant"): string | undefined {
  const value = textOf(fields, name);
  if (value !== undefined && !SLUG.test(value)) {
    errors.push({ field: name, message: "must be a tenant name (a-z, 0-9, _ and -)" });
    return undefined;
  }
  return value;
}

/** A bounded text field; an error when it is longer. */
export function boundedTextOf(
  fields: Fields,
  name: string,
  max: number,
  errors: FieldError[],
): string | undefined {
  const value = textOf(fields, name);
  if (value !== undefined && value.length > max) {
    errors.push({ field: name, message: `must be at most ${max} characters` });
    return undefined;
  }
  return value;
}

export function result<T>(value: T, errors: FieldError[], fields: Fields): Parsed<T> {
  return errors.length === 0 ? { ok: true, value } : { ok: false, errors, fields };
}

export const DAY_MS = 86_400_000;

export const isoDay = (date: Date): string => date.toISOString().slice(0, 10);
