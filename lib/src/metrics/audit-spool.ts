import { Gauge } from "prom-client";
import { metricsRegistry } from "./registry.js";

/**
 * The backlog of this process's audit writers (lib/src/audit/writer.ts), read at scrape time: events
 * in memory, in the durable local spool (PostgreSQL unreachable: it grows until the database is
 * back), and dead-lettered. `writer` names the stream: decisions, usage, saas.
 */
export interface AuditBacklog {
  queued: number;
  spooled: number;
  deadLettered: number;
}

const writers = new Map<string, () => AuditBacklog>();

export function watchAuditWriter(writer: string, status: () => AuditBacklog): void {
  writers.set(writer, status);
}

function backlogGauge(name: string, help: string, pick: (b: AuditBacklog) => number): void {
  new Gauge({
    name,
    help,
    labelNames: ["writer"],
    registers: [metricsRegistry],
    collect() {
      for (const [writer, status] of writers) this.set({ writer }, pick(status()));
    },
  });
}

backlogGauge(
  "warden_audit_spool_events",
  "Audit events waiting in the durable local spool while PostgreSQL is unreachable.",
  (b) => b.spooled,
);
backlogGauge(
  "warden_audit_queue_events",
  "Audit events in memory, not yet in the database or the spool.",
  (b) => b.queued,
);
backlogGauge(
  "warden_audit_dead_lettered_events",
  "Audit events the database refused for good (kept in the dead-letter file).",
  (b) => b.deadLettered,
);
