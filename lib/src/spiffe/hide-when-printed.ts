import { inspect } from "node:util";

/**
 * Private keys and bearer tokens must never reach a log: JSON serialisation (pino, jest output) and
 * util.inspect show the given fields as "[redacted]". The hooks are non-enumerable, so spreading or
 * comparing the object is unaffected.
 */
export function hideWhenPrinted<T extends object>(value: T, ...fields: (keyof T & string)[]): T {
  const printable = (): object => ({ ...value, ...Object.fromEntries(fields.map((f) => [f, "[redacted]"])) });
  Object.defineProperty(value, "toJSON", { value: printable, enumerable: false });
  Object.defineProperty(value, inspect.custom, { value: printable, enumerable: false });
  return value;
}
