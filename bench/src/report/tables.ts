import type { BenchResult, Json, SuiteRun } from "../results.js";

/**
 * The Markdown tables of docs/benchmarks.md, from the saved suite runs. Pure.
 */
type Row = (string | number | null | undefined)[];

export function table(header: string[], rows: Row[]): string {
  const cell = (value: string | number | null | undefined) =>
    value === null || value === undefined || (typeof value === "number" && !Number.isFinite(value))
      ? "–"
      : String(value);
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
  ].join("\n");
}

/** Milliseconds to three significant figures (0.412, 2.36, 48.1, 488). */
export function ms(value: Json | undefined): string | null {
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  if (value >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

export function latencyOf(result: BenchResult | undefined): Record<string, number> {
  const latency = result?.latency;
  return typeof latency === "object" && latency !== null && !Array.isArray(latency)
    ? (latency as Record<string, number>)
    : {};
}

export function find(run: SuiteRun, match: Record<string, Json>): BenchResult | undefined {
  return run.results.find((r) => Object.entries(match).every(([k, v]) => r[k] === v));
}

export function yes(value: Json | undefined): string {
  if (value === true) return "**met**";
  if (value === false) return "**missed**";
  return typeof value === "string" ? `**${value}**` : "–";
}

export function authzTables(run: SuiteRun): string {
  const systems = ["authz-server", "opa-envoy-plugin", "noop"];
  const rates = (run.settings.rates as number[] | undefined) ?? [];
  const sat = (system: string, scenario = "llm-call") => find(run, { system, scenario, mode: "saturation" });
  const at = (system: string, rps: number, scenario = "llm-call") =>
    find(run, { system, scenario, mode: "rate", target_rps: rps });
  const h = run.headline;
  const out: string[] = [];
  out.push(
    table(
      ["system", "saturation (rps)", ...rates.map((r) => `${r} rps: achieved / p50 / p99 / p99.9 (ms)`)],
      systems.map((system) => [
        system,
        sat(system)?.achieved_rps as number,
        ...rates.map((rps) => {
          const r = at(system, rps);
          const l = latencyOf(r);
          return r ? `${r.achieved_rps} / ${ms(l.p50_ms)} / ${ms(l.p99_ms)} / ${ms(l.p999_ms)}` : null;
        }),
      ]),
    ),
  );
  const delegated = (system: string) => [
    system,
    sat(system, "with-delegation-header")?.achieved_rps as number,
    (() => {
      const r = at(system, 1000, "with-delegation-header");
      const l = latencyOf(r);
      return r ? `${r.achieved_rps} / ${ms(l.p50_ms)} / ${ms(l.p99_ms)} / ${ms(l.p999_ms)}` : null;
    })(),
  ];
  out.push(
    "",
    "With an `x-warden-delegation` header (both refuse it at the delegation stage, see below):",
    "",
    table(
      ["system", "saturation (rps)", "1000 rps: achieved / p50 / p99 / p99.9 (ms)"],
      ["authz-server", "opa-envoy-plugin"].map(delegated),
    ),
  );
  const engines = find(run, { mode: "engine-only" });
  if (engines) {
    out.push(
      "",
      "The policy engines alone (one decision, no gRPC, on the server core; best of three runs):",
      "",
      table(
        ["engine", "µs per decision"],
        [
          [
            "opa-envoy-plugin: adapter + policy (`opa bench`, data.envoy.authz.allow)",
            engines.opa_adapter_and_policy_us as number,
          ],
          [
            "opa-envoy-plugin: policy only (`opa bench`, data.warden.authz.decision)",
            engines.opa_policy_only_us as number,
          ],
          [
            "authz-server's engine: policy only (opa-wasm, bench/wasm-eval.ts)",
            engines.wasm_policy_only_us as number,
          ],
        ],
      ),
    );
  }
  const memory = (system: string) => find(run, { system, mode: "memory" })?.rss_mb as number | undefined;
  out.push(
    "",
    `Resident memory after the runs: authz-server ${memory("authz-server") ?? "–"} MB, opa-envoy-plugin ${memory("opa-envoy-plugin") ?? "–"} MB.`,
    "",
    table(
      ["target", "measured", "goal", ""],
      [
        [
          "p99 at 1,000 rps vs opa-envoy-plugin",
          `${h.p99_vs_opa_1000}× (${h.p99_ms_1000_authz} vs ${h.p99_ms_1000_opa} ms)`,
          "≤ 1×",
          yes(h.p99_target_met),
        ],
        [
          "saturation vs opa-envoy-plugin",
          `${h.sat_vs_opa}× (${h.sat_rps_authz} vs ${h.sat_rps_opa} rps)`,
          "≥ 1.5×",
          yes(h.sat_opa_target_met),
        ],
        [
          "saturation vs no-op server",
          `${h.sat_vs_noop}× (${h.sat_rps_authz} vs ${h.sat_rps_noop} rps)`,
          "≥ 0.6×",
          yes(h.sat_noop_target_met),
        ],
      ],
    ),
  );
  return out.join("\n");
}

export function pathTables(run: SuiteRun): string {
  const variants = ["envoy-only", "ext_authz", "ext_authz+ext_proc"];
  const rates = (run.settings.rates as number[] | undefined) ?? [];
  const h = run.headline;
  return [
    table(
      ["variant", "saturation (rps)", ...rates.map((r) => `${r} rps: achieved / p50 / p99 (ms)`)],
      variants.map((system) => [
        system,
        find(run, { system, mode: "saturation" })?.achieved_rps as number,
        ...rates.map((rps) => {
          const r = find(run, { system, mode: "rate", target_rps: rps });
          const l = latencyOf(r);
          return r ? `${r.achieved_rps} / ${ms(l.p50_ms)} / ${ms(l.p99_ms)}` : null;
        }),
      ]),
    ),
    "",
    table(
      ["added at 1,000 rps vs Envoy alone", "p50 (ms)", "p99 (ms)"],
      [
        ["ext_authz", ms(h.added_p50_ms_1000_authz), ms(h.added_p99_ms_1000_authz)],
        [
          "ext_authz + ext_proc (the sidecar)",
          ms(h.added_p50_ms_1000_sidecar),
          ms(h.added_p99_ms_1000_sidecar),
        ],
      ],
    ),
    "",
    `Target: added p99 of the sidecar ≤ 2 ms at 1,000 rps: ${yes(h.added_p99_target_met)}.`,
  ].join("\n");
}

export function sseTables(run: SuiteRun): string {
  const row = (system: string, mode: string) => {
    const l = latencyOf(find(run, { system, mode }));
    return [system, l.count, ms(l.p50_ms), ms(l.p90_ms), ms(l.p99_ms), ms(l.max_ms)];
  };
  const both = (caption: string, counted: string, mode: string) => [
    caption,
    "",
    table(
      ["path", counted, "p50 (ms)", "p90 (ms)", "p99 (ms)", "max (ms)"],
      [row("envoy-only", mode), row("sidecar", mode)],
    ),
    "",
  ];
  const h = run.headline;
  return [
    ...both("Per event (stub write → event complete at the client):", "events", "per-event"),
    ...both("Time to the first event (request sent → first event complete):", "requests", "first-event"),
    `Added by the sidecar: per event p50 ${ms(h.added_event_p50_ms)} ms, p99 ${ms(h.added_event_p99_ms)} ms; first event p50 ${ms(h.added_ttfb_p50_ms)} ms, p99 ${ms(h.added_ttfb_p99_ms)} ms. Target: added per-event p99 ≤ 1 ms: ${yes(h.added_event_p99_target_met)}.`,
  ].join("\n");
}

export function revocationTables(run: SuiteRun): string {
  const result = find(run, { mode: "revocation-to-denial" });
  const l = latencyOf(result);
  return [
    table(
      ["trials", "p50 (ms)", "p90 (ms)", "p99 (ms)", "max (ms)", "most polls in a trial"],
      [[l.count, ms(l.p50_ms), ms(l.p90_ms), ms(l.p99_ms), ms(l.max_ms), result?.max_polls as number]],
    ),
    "",
    `Target: p99 < 1 s: ${yes(run.headline.revocation_target_met)}.`,
  ].join("\n");
}

export function scaleTables(run: SuiteRun): string {
  const registry = run.results.filter((r) => r.mode === "registry");
  const connections = run.results.filter((r) => r.mode === "connections");
  return [
    "Registry size (authz-server alone, shipped policy, ghz at 1,000 rps; both sizes up at once, four rounds in ABBA order, the median):",
    "",
    table(
      ["registered agents", "achieved rps", "p50 (ms)", "p99 (ms)", "RSS (MB)"],
      registry.map((r) => {
        const l = latencyOf(r);
        return [r.agents as number, r.achieved_rps as number, ms(l.p50_ms), ms(l.p99_ms), r.rss_mb as number];
      }),
    ),
    "",
    `Open agent connections to one sidecar (10,000 agents registered; file-descriptor limit ${run.settings.open_files_soft_limit}; requests at ${run.settings.probe_rps} rps through the full sidecar while the connections stay open):`,
    "",
    table(
      [
        "open connections",
        "first requests refused",
        "Envoy RSS (MB)",
        "authz-server RSS (MB)",
        "extproc-server RSS (MB)",
        "client RSS (MB)",
        "p50 (ms)",
        "p99 (ms)",
      ],
      connections.map((r) => {
        const l = latencyOf(r);
        return [
          `${r.open as number}${typeof r.note === "string" ? ` (${r.note})` : ""}`,
          (r.failed as number | undefined) ?? 0,
          r.envoy_rss_mb as number,
          r.authz_rss_mb as number,
          r.extproc_rss_mb as number,
          r.bench_client_rss_mb as number,
          ms(l.p50_ms),
          ms(l.p99_ms),
        ];
      }),
    ),
  ].join("\n");
}

const MIN_PROFILE_SAMPLES = 100;

export function profileTables(run: SuiteRun, title: string): string | null {
  const profiles = run.results.filter((r) => r.mode === "cpu-profile");
  if (profiles.length === 0) return null;
  return profiles
    .map((p) => {
      // A profile of a few dozen samples says only that the server was idle.
      if (typeof p.samples === "number" && p.samples < MIN_PROFILE_SAMPLES) {
        return `${title}: ${p.system} was nearly idle (${p.samples} samples of 1 ms over ${p.duration_ms} ms).`;
      }
      const areas = (p.by_area as { area: string; self_pct: number }[]).slice(0, 10);
      const frames = (p.top_frames as { frame: string; area: string; self_pct: number }[]).slice(0, 12);
      return [
        `${title}: ${p.system} (${p.samples} busy samples of 1 ms over ${p.duration_ms} ms${p.scenario ? `, ${p.scenario}` : ""}${p.note ? `, ${p.note}` : ""}).`,
        "",
        table(
          ["area", "self time %"],
          areas.map((a) => [a.area, a.self_pct]),
        ),
        "",
        table(
          ["top frames (self)", "area", "%"],
          frames.map((f) => [`\`${f.frame}\``, f.area, f.self_pct]),
        ),
      ].join("\n");
    })
    .join("\n\n");
}

/** The real path: each system at each rate, what the sidecar adds, saturation, usage rows, Envoy's timings. */
export function realPathTables(run: SuiteRun): string {
  const rates = (run.settings.rates as number[] | undefined) ?? [];
  const h = run.headline;
  const systems = ["sidecar", "envoy-only"];
  const timings = run.results.filter((r) => r.mode === "envoy-timing");
  const usage = find(run, { system: "sidecar", mode: "usage" });
  return [
    table(
      [
        "offered rps",
        ...systems.map((s) => `${s}: achieved / p50 / p99 / p99.9 (ms)`),
        "added p50 / p99 / p99.9 (ms)",
      ],
      rates.map((rps) => [
        rps,
        ...systems.map((system) => {
          const r = find(run, { system, mode: "rate", target_rps: rps });
          const l = latencyOf(r);
          return r ? `${r.achieved_rps} / ${ms(l.p50_ms)} / ${ms(l.p99_ms)} / ${ms(l.p999_ms)}` : null;
        }),
        `${ms(h[`added_p50_ms_${rps}`])} / ${ms(h[`added_p99_ms_${rps}`])} / ${ms(h[`added_p999_ms_${rps}`])}`,
      ]),
    ),
    "",
    `Saturation (open-loop ramp): sidecar ${h.sat_rps_sidecar ?? "–"} rps, Envoy alone ${h.sat_rps_envoy ?? "–"} rps: **${h.sat_vs_envoy ?? "–"}×**.` +
      (usage
        ? ` Usage rows written: ${usage.usage_rows} for ${usage.answered_200} answered calls (${usage.delegated_rows} carrying the delegation).`
        : ""),
    ...(timings.length > 0
      ? [
          "",
          "Envoy's own timings over the sidecar's 500 rps rounds (whole milliseconds, the bucket's upper edge):",
          "",
          table(
            ["histogram", "requests", "p50 (ms)", "p99 (ms)", "p99.9 (ms)"],
            timings.map((r) => [
              r.histogram as string,
              r.count as number,
              ms(r.p50_ms),
              ms(r.p99_ms),
              ms(r.p999_ms),
            ]),
          ),
        ]
      : []),
    "",
    `Targets: added p99 ≤ 5 ms at 500 rps: ${yes(h.added_p99_500_target_met)}; saturation ≥ 0.3× Envoy alone: ${yes(h.sat_target_met)}.`,
  ].join("\n");
}
