import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

/**
 * Summary of a V8 CPU profile (`node --cpu-prof`): where the self time goes, by function and by
 * area (our code, grpc-js, the Wasm policy engine, logging, Node internals...). Pure apart from
 * reading the file.
 */
const profileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() }),
      hitCount: z.number().default(0),
    }),
  ),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number()).default([]),
  timeDeltas: z.array(z.number()).default([]),
});

export interface FrameShare {
  frame: string;
  area: string;
  self_pct: number;
}

export interface ProfileSummary {
  duration_ms: number;
  samples: number;
  by_area: { area: string; self_pct: number }[];
  top_frames: FrameShare[];
}

/** Which part of the program a frame belongs to, from its script URL. */
export function areaOf(url: string, functionName: string): string {
  if (url === "") {
    if (functionName === "(garbage collector)") return "garbage collection";
    if (functionName === "(idle)" || functionName === "(program)") return functionName.slice(1, -1);
    return functionName.startsWith("wasm-function") || functionName.startsWith("$")
      ? "policy (wasm)"
      : "v8/native";
  }
  if (url.startsWith("wasm://")) return "policy (wasm)";
  if (url.startsWith("node:")) return "node internals";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) {
    if (pkg === "@open-policy-agent/opa-wasm") return "policy (opa-wasm js)";
    if (
      ["pino", "sonic-boom", "fast-redact", "@pinojs/redact", "thread-stream"].includes(pkg) ||
      pkg.startsWith("pino-")
    )
      return "logging (pino)";
    return pkg;
  }
  const local = /\/dist\/([^/]+(?:\/src)?)\//.exec(url)?.[1];
  return local ? `warden ${local.replace(/\/src$/, "")}` : "other";
}

function frameName(callFrame: { functionName: string; url: string; lineNumber: number }): string {
  const file = callFrame.url.startsWith("node:")
    ? callFrame.url
    : callFrame.url.split("/").slice(-2).join("/");
  const name = callFrame.functionName || "(anonymous)";
  return file ? `${name} ${file}:${callFrame.lineNumber + 1}` : name;
}

/**
 * `skipMs`: leave out the first milliseconds of the profile (start-up and warm-up), so the shares
 * describe the process under the measured load only.
 */
export function summarizeProfile(json: string, top = 15, skipMs = 0): ProfileSummary {
  const profile = profileSchema.parse(JSON.parse(json));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  // Hits per node from the sample timeline when there is one, so a start-up window can be cut.
  const hits = new Map<number, number>();
  if (profile.samples.length > 0 && profile.timeDeltas.length === profile.samples.length) {
    let at = 0;
    profile.samples.forEach((id, i) => {
      at += profile.timeDeltas[i]! / 1000;
      if (at >= skipMs) hits.set(id, (hits.get(id) ?? 0) + 1);
    });
  } else {
    for (const node of profile.nodes) hits.set(node.id, node.hitCount);
  }
  const byFrame = new Map<string, { area: string; hits: number }>();
  const byArea = new Map<string, number>();
  let total = 0;
  for (const [id, count] of hits) {
    const node = nodes.get(id);
    if (!node || count === 0) continue;
    const area = areaOf(node.callFrame.url, node.callFrame.functionName);
    if (area === "idle") continue;
    total += count;
    const name = frameName(node.callFrame);
    const entry = byFrame.get(name) ?? { area, hits: 0 };
    entry.hits += count;
    byFrame.set(name, entry);
    byArea.set(area, (byArea.get(area) ?? 0) + count);
  }
  const pct = (count: number) => (total === 0 ? 0 : Math.round((count / total) * 1000) / 10);
  return {
    duration_ms: Math.max(0, Math.round((profile.endTime - profile.startTime) / 1000 - skipMs)),
    samples: total,
    by_area: [...byArea].sort((a, b) => b[1] - a[1]).map(([area, count]) => ({ area, self_pct: pct(count) })),
    top_frames: [...byFrame]
      .sort((a, b) => b[1].hits - a[1].hits)
      .slice(0, top)
      .map(([frame, { area, hits: count }]) => ({ frame, area, self_pct: pct(count) })),
  };
}

/** The newest .cpuprofile Node wrote into `dir`. */
export function newestProfile(dir: string): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .sort();
  const newest = files.at(-1);
  if (!newest) throw new Error(`no .cpuprofile in ${dir}`);
  return readFileSync(join(dir, newest), "utf8");
}
