import { Counter } from "prom-client";
import { metricsRegistry } from "./registry.js";

/**
 * Cache lookups by cache and result (hit, miss): the hit ratio of a cache is
 * `rate(warden_cache_requests_total{result="hit"}) / rate(warden_cache_requests_total)`. A cache
 * either counts as it goes (`cacheCounter`) or keeps its own totals, read at scrape time
 * (`watchCacheStats`).
 */
const statSources = new Map<string, () => { hits: number; misses: number }>();

const lookups = new Counter({
  name: "warden_cache_requests_total",
  help: "Cache lookups by cache (llm_keys, delegation_tokens) and result (hit, miss).",
  labelNames: ["cache", "result"],
  registers: [metricsRegistry],
  collect() {
    for (const [cache, stats] of statSources) {
      const { hits, misses } = stats();
      this.remove({ cache, result: "hit" });
      this.remove({ cache, result: "miss" });
      this.inc({ cache, result: "hit" }, hits);
      this.inc({ cache, result: "miss" }, misses);
    }
  },
});

export interface CacheCounter {
  hit(): void;
  miss(): void;
}

export function cacheCounter(cache: string): CacheCounter {
  const hits = lookups.labels(cache, "hit");
  const misses = lookups.labels(cache, "miss");
  return { hit: () => hits.inc(), miss: () => misses.inc() };
}

export function watchCacheStats(cache: string, stats: () => { hits: number; misses: number }): void {
  statSources.set(cache, stats);
}
