import { performance } from "node:perf_hooks";
import { MIGRATIONS_DIR } from "../control-plane/src/files.js";
import { normalizeAuditEvent } from "../lib/src/audit/event.js";
import { appendAuditEntries } from "../lib/src/audit/store.js";
import { migrate } from "../lib/src/db/migrate.js";
import { createPostgresDatabase } from "../lib/src/db/postgres.js";
import { startPostgres } from "../test/harness/postgres.js";
import { median } from "./src/stats.js";

/**
 * What the audit log's NOTIFY trigger (migration 020: wakes the webhook dispatcher and the syslog
 * push) costs an append: the same append transaction as the audit writer makes (one decision, or a
 * batch of 50), with the trigger enabled and disabled in alternating rounds on the same database.
 * Prints the median and p99 latency per mode and their ratio.
 *
 *   npm run build && node dist/bench/audit-notify.js [rounds=10] [appends per round=300]
 */
const ROUNDS = Number(process.argv[2] ?? 10);
const PER_ROUND = Number(process.argv[3] ?? 300);

function event(tenant: string, i: number) {
  return normalizeAuditEvent({
    tenant,
    source: "authz-server",
    action: "authz.decision",
    agent_spiffe_id: "spiffe://warden.local/agent/bench",
    decision: i % 10 === 0 ? "deny" : "allow",
    reason: "allowed",
    decision_id: `dec-${i}`,
    details: { status: 200, path: "/openai/v1/chat/completions", policy_revision: "r1" },
  });
}

const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.99)]!;

async function main(): Promise<void> {
  const cluster = await startPostgres();
  const db = createPostgresDatabase(await cluster.createDatabase("bench_notify"));
  try {
    await migrate(db, MIGRATIONS_DIR);
    const samples: Record<string, Record<"on" | "off", number[]>> = {
      "1 event": { on: [], off: [] },
      "50 events": { on: [], off: [] },
    };
    let n = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 === 0 ? (["on", "off"] as const) : (["off", "on"] as const)) {
        await db.exec(
          `ALTER TABLE audit_events ${mode === "on" ? "ENABLE" : "DISABLE"} TRIGGER audit_events_announce`,
        );
        for (const [label, size] of [
          ["1 event", 1],
          ["50 events", 50],
        ] as const) {
          for (let i = 0; i < PER_ROUND / (size === 1 ? 1 : 10); i++) {
            const batch = Array.from({ length: size }, () => event(`t${n % 4}`, n++));
            const started = performance.now();
            await db.transaction((tx) => appendAuditEntries(tx, batch, new Date(), { fresh: true }));
            samples[label]![mode].push(performance.now() - started);
          }
        }
      }
    }
    console.log(`append latency, ${ROUNDS} alternating rounds (ms): median / p99`);
    for (const [label, modes] of Object.entries(samples)) {
      const on = median(modes.on);
      const off = median(modes.off);
      console.log(
        `  ${label.padEnd(10)} trigger off ${off.toFixed(3)} / ${p99(modes.off).toFixed(3)}   on ${on.toFixed(3)} / ${p99(modes.on).toFixed(3)}   median ratio ${(on / off).toFixed(2)}`,
      );
    }
  } finally {
    await db.close();
    await cluster.destroy();
  }
}

await main();
