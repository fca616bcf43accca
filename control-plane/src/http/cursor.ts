import { z } from "zod";
import { ApiError } from "./errors.js";

/**
 * Opaque pagination cursors: base64url JSON of the sort key of the last item and the list it came
 * from. Keyset pagination, so pages stay stable while rows are added. A cursor that does not decode,
 * or belongs to another list, is a 400.
 */
const timeAndId = z
  .object({ l: z.string(), t: z.string().datetime({ offset: true }), i: z.string().uuid() })
  .strict();
const sequence = z.object({ l: z.string(), s: z.number().int().nonnegative() }).strict();

export interface TimeAndIdKey {
  t: string;
  i: string;
}

function decode(cursor: string): unknown {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  try {
    return JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}

function invalid(): ApiError {
  return new ApiError("bad_request", "invalid cursor: pass the next_cursor of the previous page unchanged", [
    { field: "query.cursor", message: "is not a cursor of this list" },
  ]);
}

export function encodeTimeCursor(list: string, createdAt: Date | string, id: string): string {
  const t = typeof createdAt === "string" ? createdAt : createdAt.toISOString();
  return Buffer.from(JSON.stringify({ l: list, t, i: id })).toString("base64url");
}

export function decodeTimeCursor(list: string, cursor: string | undefined): TimeAndIdKey | undefined {
  if (cursor === undefined) return undefined;
  const parsed = timeAndId.safeParse(decode(cursor));
  if (!parsed.success || parsed.data.l !== list) throw invalid();
  return { t: parsed.data.t, i: parsed.data.i };
}

export function encodeSequenceCursor(list: string, seq: number): string {
  return Buffer.from(JSON.stringify({ l: list, s: seq })).toString("base64url");
}

export function decodeSequenceCursor(list: string, cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  const parsed = sequence.safeParse(decode(cursor));
  if (!parsed.success || parsed.data.l !== list) throw invalid();
  return parsed.data.s;
}
