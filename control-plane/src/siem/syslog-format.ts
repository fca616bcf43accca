import type { AuditRecord } from "../../../lib/src/audit/chain.js";

/**
 * Audit rows as syslog messages (RFC 5424) framed for TLS transport (RFC 5425: octet counting,
 * `MSG-LEN SP SYSLOG-MSG`). Pure.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [warden@32473 tenant=".." seq=".." ...] BOM{json}
 *
 * Facility 13 (log audit); severity 4 (warning) for a refusal, 6 (informational) otherwise. The
 * SD-ID uses 32473, the private enterprise number RFC 5612 reserves for documentation; an operator
 * with their own number can map it in the collector. MSG is the audit row as the NDJSON export
 * writes it, UTF-8 with the BOM RFC 5424 asks for.
 */
const FACILITY_LOG_AUDIT = 13;
export const SD_ID = "warden@32473";
const BOM = "\uFEFF";

/** PRINTUSASCII without space, at most `max` characters; "-" (NILVALUE) when empty. */
export function headerField(value: string | null | undefined, max: number): string {
  const printable = (value ?? "").replace(/[^\x21-\x7e]/g, "_").slice(0, max);
  return printable === "" ? "-" : printable;
}

/** An SD-PARAM value: `"`, `\` and `]` escaped (RFC 5424 §6.3.3). */
export function paramValue(value: string): string {
  return value.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

export function syslogMessage(record: AuditRecord, hostname: string, appName = "agent-warden"): string {
  const severity = record.decision === "deny" ? 4 : 6;
  const params: [string, string | number | null][] = [
    ["tenant", record.tenant],
    ["seq", record.chain_seq],
    ["event_id", record.event_id],
    ["action", record.action],
    ["decision", record.decision],
    ["decision_id", record.decision_id],
  ];
  const sd = params
    .filter(([, v]) => v !== null && v !== "")
    .map(([k, v]) => `${k}="${paramValue(String(v))}"`)
    .join(" ");
  return [
    `<${FACILITY_LOG_AUDIT * 8 + severity}>1`,
    record.occurred_at,
    headerField(hostname, 255),
    headerField(appName, 48),
    headerField(record.source, 128),
    headerField(record.action, 32),
    `[${SD_ID} ${sd}]`,
    `${BOM}${JSON.stringify(record)}`,
  ].join(" ");
}

/** RFC 5425 framing: the message's length in octets, a space, the message. */
export function octetCountingFrame(message: string): Buffer {
  const body = Buffer.from(message, "utf8");
  return Buffer.concat([Buffer.from(`${body.length} `, "ascii"), body]);
}

/** Splits a received stream into messages; returns those complete and the unread rest. */
export function readFrames(buffer: Buffer): { messages: string[]; rest: Buffer } {
  const messages: string[] = [];
  let at = 0;
  for (;;) {
    const space = buffer.indexOf(0x20, at);
    if (space < 0) break;
    const length = buffer.subarray(at, space).toString("ascii");
    if (!/^[1-9]\d{0,8}$/.test(length)) throw new Error(`malformed frame length "${length.slice(0, 16)}"`);
    const end = space + 1 + Number(length);
    if (end > buffer.length) break;
    messages.push(buffer.subarray(space + 1, end).toString("utf8"));
    at = end;
  }
  return { messages, rest: buffer.subarray(at) };
}
