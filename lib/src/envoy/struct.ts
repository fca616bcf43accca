import type { google } from "../gen/envoy.js";

/** Plain JSON ↔ google.protobuf.Struct, for Envoy dynamic metadata. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export function toStructValue(value: unknown): google.protobuf.IValue {
  if (value === null || value === undefined) return { nullValue: 0 };
  switch (typeof value) {
    case "boolean":
      return { boolValue: value };
    case "number":
      return { numberValue: value };
    case "string":
      return { stringValue: value };
    case "object":
      if (Array.isArray(value)) return { listValue: { values: value.map(toStructValue) } };
      return { structValue: toStruct(value as Record<string, unknown>) };
    default:
      return { stringValue: String(value) };
  }
}

export function toStruct(object: Readonly<Record<string, unknown>>): google.protobuf.IStruct {
  const fields: Record<string, google.protobuf.IValue> = {};
  for (const [key, value] of Object.entries(object)) {
    if (value !== undefined) fields[key] = toStructValue(value);
  }
  return { fields };
}

export function fromStructValue(value: google.protobuf.IValue | null | undefined): JsonValue {
  if (!value) return null;
  if (value.stringValue !== undefined && value.stringValue !== null) return value.stringValue;
  if (value.numberValue !== undefined && value.numberValue !== null) return value.numberValue;
  if (value.boolValue !== undefined && value.boolValue !== null) return value.boolValue;
  if (value.structValue) return fromStruct(value.structValue);
  if (value.listValue) return (value.listValue.values ?? []).map(fromStructValue);
  return null;
}

export function fromStruct(struct: google.protobuf.IStruct | null | undefined): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) out[key] = fromStructValue(value);
  return out;
}
