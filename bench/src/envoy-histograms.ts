/**
 * Envoy's own timing histograms (admin `/stats?histogram_buckets=detailed`), taken before and after
 * a measured window: the difference of the cumulative buckets is the window's distribution, so a
 * suite can say how long Envoy waited on each cluster (authz-server's Check, extproc-server's
 * stream, the upstream) during exactly the requests it measured. Envoy merges histograms on its
 * stats flush (every 5 s), so a snapshot waits for one flush after the load.
 */
export interface Bucket {
  lower_bound: number;
  width: number;
  count: number;
}

export type HistogramSnapshot = Map<string, Bucket[]>;

export interface WindowQuantiles {
  count: number;
  p50_ms: number | null;
  p99_ms: number | null;
  p999_ms: number | null;
}

interface DetailedStats {
  stats?: { histograms?: { details?: { name: string; totals?: Bucket[] }[] } }[];
}

/** The cumulative buckets of every histogram in Envoy's detailed JSON answer. */
export function parseDetailedHistograms(json: unknown): HistogramSnapshot {
  const snapshot: HistogramSnapshot = new Map();
  for (const entry of (json as DetailedStats).stats ?? [])
    for (const detail of entry.histograms?.details ?? []) snapshot.set(detail.name, detail.totals ?? []);
  return snapshot;
}

const key = (b: Bucket): string => `${b.lower_bound}/${b.width}`;

/** What `after` holds that `before` did not: the window's buckets, by lower bound. */
export function windowBuckets(before: readonly Bucket[], after: readonly Bucket[]): Bucket[] {
  const earlier = new Map(before.map((b) => [key(b), b.count]));
  return after
    .map((b) => ({ ...b, count: b.count - (earlier.get(key(b)) ?? 0) }))
    .filter((b) => b.count > 0)
    .sort((a, b) => a.lower_bound - b.lower_bound);
}

/** Quantiles of bucketed values: each bucket's upper edge (Envoy records whole milliseconds). */
export function bucketQuantiles(buckets: readonly Bucket[]): WindowQuantiles {
  const count = buckets.reduce((n, b) => n + b.count, 0);
  const at = (q: number): number | null => {
    if (count === 0) return null;
    let seen = 0;
    for (const b of buckets) {
      seen += b.count;
      if (seen >= q * count) return b.lower_bound + b.width;
    }
    return null;
  };
  return { count, p50_ms: at(0.5), p99_ms: at(0.99), p999_ms: at(0.999) };
}

/** One snapshot of the histograms whose names match `filter` (an Envoy stats regex). */
export async function histogramSnapshot(adminUrl: string, filter: string): Promise<HistogramSnapshot> {
  const url = `${adminUrl}/stats?format=json&histogram_buckets=detailed&filter=${encodeURIComponent(filter)}`;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`Envoy admin ${url}: ${response.status}`);
  return parseDetailedHistograms(await response.json());
}

/** Per histogram: the quantiles of what was recorded between the two snapshots. */
export function windowQuantiles(
  before: HistogramSnapshot,
  after: HistogramSnapshot,
): Record<string, WindowQuantiles> {
  const out: Record<string, WindowQuantiles> = {};
  for (const [name, buckets] of after)
    out[name] = bucketQuantiles(windowBuckets(before.get(name) ?? [], buckets));
  return out;
}
