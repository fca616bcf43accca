/**
 * What the query-less URL tags (lib/src/envoy/tracing.ts, QUERYLESS_URL_TAGS) cost Envoy, in CPU
 * time per request, in one run: two Envoys with the sidecar's tracer config, one with the custom
 * tags and one without, every request traced (a URL with a query string), a direct 200 reply, and
 * the collector unreachable (spans are built and tagged, then dropped: the export costs both alike).
 * h2load rounds interleave the two; the CPU is the Envoy process's own (/proc), per request.
 * Run: npm run build && node dist/bench/trace-url-tags.js [requests-per-round=40000] [rounds=4]
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts, httpOk } from "../lib/src/runtime/child.js";
import { toolPath } from "../lib/src/runtime/layout.js";
import { httpTracing } from "../lib/src/envoy/tracing.js";
import type { JsonObject } from "../lib/src/envoy/config-json.js";

const requests = Number(process.argv[2] ?? 40_000);
const rounds = Number(process.argv[3] ?? 4);
const TICKS_PER_S = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());
const URL_PATH = "/openai/v1/chat/completions?api_key=sk-bench-not-a-secret&stream=false";

function bootstrap(port: number, adminPort: number, tagged: boolean): JsonObject {
  const tracing = httpTracing({
    collector: { address: "127.0.0.1", port: 1 },
    serviceName: "envoy",
    samplingPercent: 100,
  });
  if (!tagged) delete tracing.custom_tags;
  const address = (portValue: number): JsonObject => ({
    socket_address: { address: "127.0.0.1", port_value: portValue },
  });
  return {
    admin: { address: address(adminPort) },
    static_resources: {
      listeners: [
        {
          name: "bench",
          address: address(port),
          filter_chains: [
            {
              filters: [
                {
                  name: "envoy.filters.network.http_connection_manager",
                  typed_config: {
                    "@type":
                      "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    stat_prefix: "bench",
                    tracing,
                    route_config: {
                      virtual_hosts: [
                        {
                          name: "all",
                          domains: ["*"],
                          routes: [{ match: { prefix: "/" }, direct_response: { status: 200 } }],
                        },
                      ],
                    },
                    http_filters: [
                      {
                        name: "envoy.filters.http.router",
                        typed_config: {
                          "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
                        },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: "warden_otlp",
          type: "STATIC",
          typed_extension_protocol_options: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
              "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: "warden_otlp",
            endpoints: [{ lb_endpoints: [{ endpoint: { address: address(1) } }] }],
          },
        },
      ],
    },
  };
}

interface Variant {
  name: string;
  port: number;
  adminPort: number;
  envoy: ChildProcess;
  cpuUsPerRequest: number[];
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "warden-trace-tags-"));
  const [a, aAdmin, b, bAdmin] = (await freePorts(4)) as [number, number, number, number];
  const variants: Variant[] = [
    { name: "without tags", port: a, adminPort: aAdmin, tagged: false },
    { name: "with tags", port: b, adminPort: bAdmin, tagged: true },
  ].map(({ name, port, adminPort, tagged }, index) => {
    const config = join(work, `envoy-${index}.json`);
    writeFileSync(config, JSON.stringify(bootstrap(port, adminPort, tagged)));
    const envoy = spawn(
      toolPath("envoy"),
      ["-c", config, "--concurrency", "1", "--base-id", String(process.pid * 2 + index), "-l", "error"],
      { stdio: "ignore" },
    );
    return { name, port, adminPort, envoy, cpuUsPerRequest: [] };
  });
  try {
    for (const variant of variants) {
      const deadline = Date.now() + 15_000;
      while (!(await httpOk(`http://127.0.0.1:${variant.adminPort}/ready`))) {
        if (Date.now() > deadline) throw new Error(`envoy (${variant.name}) never answered`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        const before = cpuSeconds(variant.envoy.pid!);
        execFileSync(
          "h2load",
          ["-n", String(requests), "-c", "8", "-m", "4", `http://127.0.0.1:${variant.port}${URL_PATH}`],
          {
            stdio: "ignore",
          },
        );
        variant.cpuUsPerRequest.push(((cpuSeconds(variant.envoy.pid!) - before) * 1e6) / requests);
      }
    }
  } finally {
    for (const variant of variants) variant.envoy.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  }
  const median = (values: number[]): number =>
    [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
  for (const variant of variants)
    process.stdout.write(
      `${variant.name}: Envoy CPU per traced request ${median(variant.cpuUsPerRequest).toFixed(2)} µs (median of ${rounds} rounds: ${variant.cpuUsPerRequest.map((v) => v.toFixed(2)).join(", ")})\n`,
    );
  const [without, withTags] = variants.map((variant) => median(variant.cpuUsPerRequest)) as [number, number];
  process.stdout.write(`ratio with/without: x${(withTags / without).toFixed(3)}\n`);
}

await main();
