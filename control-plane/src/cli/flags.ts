import { usageError } from "./cli-error.js";

/** Readers for parsed `--flag` values: each checks its flag and names it in the usage error. */
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

export function text(values: FlagValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

export function requiredText(values: FlagValues, name: string): string {
  const value = text(values, name);
  if (value === undefined) throw usageError(`--${name} is required`);
  return value;
}

/** Repeated and comma-separated values, trimmed, empty ones dropped. */
export function list(values: FlagValues, name: string): string[] | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value : [String(value)])
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter(Boolean);
}

export function integer(values: FlagValues, name: string): number | undefined {
  const value = text(values, name);
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value)) throw usageError(`--${name} must be a whole number`);
  return Number(value);
}

export function oneOf<T extends string>(
  values: FlagValues,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const value = text(values, name);
  if (value !== undefined && !(allowed as readonly string[]).includes(value))
    throw usageError(`--${name} must be one of ${allowed.join(", ")}`);
  return value as T | undefined;
}

export function jsonObject(values: FlagValues, name: string): Record<string, unknown> | undefined {
  const value = text(values, name);
  if (value === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw usageError(`--${name} must be a JSON object, e.g. '{"key":"value"}'`);
}

type Positionals = { positionals: readonly string[] };

export function onePositional({ positionals }: Positionals, what: string): string {
  const [value, ...rest] = positionals;
  if (value === undefined || rest.length) throw usageError(`give exactly one ${what}`);
  return value;
}

export function noPositionals({ positionals }: Positionals): void {
  if (positionals.length) throw usageError(`unexpected argument "${positionals[0]}"`);
}

/** Drops undefined members so only the flags given become fields. */
export function defined<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Parser options for flags that each take one string: `stringFlags("tenant", "limit")`. */
export function stringFlags<N extends string>(...names: N[]): Record<N, { type: "string" }> {
  return Object.fromEntries(names.map((name) => [name, { type: "string" }])) as Record<N, { type: "string" }>;
}
