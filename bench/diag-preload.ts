/**
 * Loaded into a server under test with `node --import` (bench/src/suites/tail.ts): its event-loop
 * delay histogram and its GC pauses by kind, appended as one JSON line to $BENCH_DIAG_FILE on
 * SIGUSR2 (then reset), so a suite reads them per measured round. Measures; changes nothing.
 */
import { appendFileSync } from "node:fs";
import { monitorEventLoopDelay, PerformanceObserver, constants } from "node:perf_hooks";

const out = process.env.BENCH_DIAG_FILE;
if (out) {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const KINDS: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: "scavenge",
    [constants.NODE_PERFORMANCE_GC_MAJOR]: "mark_compact",
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weak_callbacks",
  };
  let pauses: { kind: string; ms: number }[] = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind ?? -1;
      pauses.push({ kind: KINDS[kind] ?? String(kind), ms: entry.duration });
    }
  }).observe({ entryTypes: ["gc"] });
  process.on("SIGUSR2", () => {
    const gc: Record<string, { count: number; total_ms: number; max_ms: number }> = {};
    for (const { kind, ms } of pauses) {
      const g = (gc[kind] ??= { count: 0, total_ms: 0, max_ms: 0 });
      g.count += 1;
      g.total_ms += ms;
      g.max_ms = Math.max(g.max_ms, ms);
    }
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    const line = {
      loop_delay_ms: {
        p50: ms(loop.percentile(50)),
        p99: ms(loop.percentile(99)),
        p999: ms(loop.percentile(99.9)),
        max: ms(loop.max),
      },
      gc,
      rss_mb: Math.round(process.memoryUsage.rss() / 1e6),
    };
    appendFileSync(out, `${JSON.stringify(line)}\n`);
    loop.reset();
    pauses = [];
  });
}
