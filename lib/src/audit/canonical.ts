/**
 * Canonical JSON for hashing: object keys sorted, no whitespace, `undefined` members dropped.
 * The same value always gives the same bytes, whichever order its keys were built in.
 *
 * Every audit append hashes each row, and authz-server appends one row per decision, so a value
 * whose keys are already in order at every level (normalised audit entries are built that way) is
 * serialised by the native JSON.stringify, which then gives exactly the same bytes.
 */
export function canonicalJson(value: unknown): string {
  return inCanonicalOrder(value) ? JSON.stringify(value) : slowCanonicalJson(value);
}

/** True when JSON.stringify(value) is already the canonical form (and would not throw here). */
function inCanonicalOrder(value: unknown): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object": {
      if (value instanceof Date) return true;
      if (Array.isArray(value)) {
        for (const item of value) if (item !== undefined && !inCanonicalOrder(item)) return false;
        return true;
      }
      if (typeof (value as { toJSON?: unknown }).toJSON === "function") return false;
      const record = value as Record<string, unknown>;
      let previous: string | undefined;
      for (const key in record) {
        if (!Object.hasOwn(record, key)) return false;
        // Integer-like keys are enumerated first whatever their insertion order: not "sorted" here.
        if (previous !== undefined && !(previous < key)) return false;
        const member = record[key];
        if (member === undefined || !inCanonicalOrder(member)) return false;
        previous = key;
      }
      return true;
    }
    default:
      return false;
  }
}

function slowCanonicalJson(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value))
        throw new TypeError("canonical JSON has no representation for a non-finite number");
      return JSON.stringify(value);
    case "object": {
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ",";
          const item: unknown = value[i];
          out += slowCanonicalJson(item === undefined ? null : item);
        }
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, as `<` does.
      const keys = Object.keys(record).sort();
      let out = "{";
      let first = true;
      for (const key of keys) {
        const member = record[key];
        if (member === undefined) continue;
        if (!first) out += ",";
        first = false;
        out += `${JSON.stringify(key)}:${slowCanonicalJson(member)}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonical JSON has no representation for a ${typeof value}`);
  }
}
