import type { AuditRecord } from "../../../lib/src/audit/chain.js";
import { headerField, octetCountingFrame, paramValue, readFrames, syslogMessage } from "./syslog-format.js";

const record = {
  id: 3,
  event_id: "6f1c3a52-1d4e-4d7b-9a55-0b8a5d0c2f11",
  tenant: "acme",
  chain_seq: 9,
  occurred_at: "2026-12-07T12:00:00.000Z",
  source: "authz-server",
  action: "authz.decision",
  decision: "deny",
  decision_id: 'dec"1]',
  reason: "certificate_untrusted",
  details: { note: "héllo" },
} as unknown as AuditRecord;

test("an audit row is one RFC 5424 message: log-audit facility, warning for a refusal, SD with tenant and position", () => {
  const message = syslogMessage(record, "host-1");
  expect(message).toMatch(
    /^<108>1 2026-12-07T12:00:00.000Z host-1 agent-warden authz-server authz.decision \[warden@32473 tenant="acme" seq="9" event_id="6f1c3a52-[^"]+" action="authz.decision" decision="deny" decision_id="dec\\"1\\]"\] \uFEFF\{/,
  );
  expect(JSON.parse(message.slice(message.indexOf("\uFEFF") + 1))).toMatchObject({
    chain_seq: 9,
    tenant: "acme",
  });
  expect(syslogMessage({ ...record, decision: null } as AuditRecord, "h")).toMatch(/^<110>1 /);
});

test("header fields are printable ASCII without spaces, cut to their length, NILVALUE when empty", () => {
  expect(headerField("a b\u00e9c", 10)).toBe("a_b_c");
  expect(headerField("", 10)).toBe("-");
  expect(headerField(null, 10)).toBe("-");
  expect(headerField("x".repeat(40), 32)).toHaveLength(32);
  expect(paramValue('a"b\\c]d')).toBe('a\\"b\\\\c\\]d');
});

test("octet counting counts bytes, not characters, and frames split back exactly", () => {
  const frame = octetCountingFrame("héllo");
  expect(frame.toString("utf8")).toBe("6 héllo");
  const stream = Buffer.concat([frame, octetCountingFrame("second message"), Buffer.from("14 incompl")]);
  const { messages, rest } = readFrames(stream);
  expect(messages).toEqual(["héllo", "second message"]);
  expect(rest.toString()).toBe("14 incompl");
  expect(() => readFrames(Buffer.from("<13>1 not framed"))).toThrow(/malformed frame length/);
});
