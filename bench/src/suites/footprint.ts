import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";
import { stopAll } from "../../../test/harness/process.js";
import { startStack, type Stack } from "../../../test/harness/stack.js";
import { openLoop } from "../open-loop.js";
import { Recorder, type Headline, type SuiteRun } from "../results.js";
import { CHAT_BODY } from "./path.js";

/**
 * What one sidecar costs a Kubernetes node (deploy/kubernetes sizes its containers from this): the
 * resident memory of Envoy, authz-server and extproc-server idle and under load, the CPU each spends
 * idle, and the CPU it spends per 1,000 requests per second beyond that (CPU-seconds per 1,000
 * answered requests), read from /proc/<pid>/status (VmRSS, VmHWM) and /proc/<pid>/stat
 * (utime + stime) around an idle window and fixed-rate open-loop windows. The request is the path
 * suite's (plain HTTP on loopback, the walking-skeleton policy, ext_authz + ext_proc headers, a stub
 * upstream): the per-request work of the full policy and mTLS is larger, see docs/deployment.md.
 */
const RATES = (process.env.BENCH_FOOTPRINT_RATES ?? "200,400")
  .split(",")
  .map(Number)
  .filter((n) => n > 0);
const WINDOW_S = Number(process.env.BENCH_FOOTPRINT_WINDOW_S ?? 15);
const IDLE_S = 10;
const CLK_TCK = 100;

interface ProcSample {
  rss_mib: number;
  hwm_mib: number;
  cpu_s: number;
}

function sample(pid: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  // utime and stime: fields 14 and 15 of stat(5), 12 and 13 after the ") " split.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return {
    rss_mib: Math.round(kb("VmRSS") / 102.4) / 10,
    hwm_mib: Math.round(kb("VmHWM") / 102.4) / 10,
    cpu_s: (Number(stat[11]) + Number(stat[12])) / CLK_TCK,
  };
}

function pidsOf(stack: Stack): Record<string, number> {
  const pid = (name: string, value: number | undefined): number => {
    if (value === undefined) throw new Error(`${name} has no pid`);
    return value;
  };
  return {
    envoy: pid("envoy", stack.envoy.process.pid),
    "authz-server": pid("authz-server", stack.authz.process().pid),
    "extproc-server": pid("extproc-server", stack.extproc.process().pid),
  };
}

function post(url: string, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          authorization: "Bearer sk-placeholder",
          "user-agent": "warden-bench",
        },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)),
        );
        res.on("error", reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(CHAT_BODY);
  });
}

const round = (n: number, digits: number): number => Math.round(n * 10 ** digits) / 10 ** digits;

export async function footprintSuite(): Promise<SuiteRun> {
  const recorder = new Recorder("footprint");
  Object.assign(recorder.settings, {
    rates: RATES,
    window_s: WINDOW_S,
    request: "POST /openai/v1/chat/completions (JSON body), skeleton policy, stub upstream, plain HTTP",
    source: "/proc/<pid>/status VmRSS, VmHWM; /proc/<pid>/stat utime+stime",
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let stack: Stack | undefined;
  try {
    stack = await startStack({ name: "bench-footprint" });
    const url = `${stack.agentUrl}/openai/v1/chat/completions`;
    const pids = pidsOf(stack);
    // Warm-up: JIT, connection pools, the WASM instance.
    await openLoop({ rate: 100, durationS: 3, send: () => post(url, agent) });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const headline: Headline = {};
    // Idle: memory, and the CPU a process spends with no traffic (timers, GC, Envoy's stats flush),
    // which the per-request figure below leaves out.
    const idleBefore = Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, sample(p)]));
    const idleStarted = performance.now();
    await new Promise((resolve) => setTimeout(resolve, IDLE_S * 1000));
    const idleSeconds = (performance.now() - idleStarted) / 1000;
    const idleCores: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids)) {
      const idle = sample(pid);
      idleCores[name] = (idle.cpu_s - idleBefore[name]!.cpu_s) / idleSeconds;
      recorder.record(name, {
        mode: "idle",
        rss_mib: idle.rss_mib,
        cpu_millicores: round(idleCores[name]! * 1000, 1),
      });
      headline[`idle_rss_mib_${name}`] = idle.rss_mib;
      headline[`idle_millicores_${name}`] = round(idleCores[name]! * 1000, 1);
    }
    const perThousand: Record<string, number[]> = {};
    for (const rate of RATES) {
      const before = Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, sample(p)]));
      const started = performance.now();
      const result = await openLoop({ rate, durationS: WINDOW_S, send: () => post(url, agent) });
      const after = Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, sample(p)]));
      const seconds = (performance.now() - started) / 1000;
      stack.upstream.reset();
      const answered = result.requests - result.errors;
      for (const name of Object.keys(pids)) {
        // CPU-seconds per 1,000 answered requests beyond the idle spend: cores per 1,000 rps.
        const cpuS = after[name]!.cpu_s - before[name]!.cpu_s;
        const perRequestCpuS = Math.max(0, cpuS - idleCores[name]! * seconds) / answered;
        (perThousand[name] ??= []).push(perRequestCpuS * 1000);
        recorder.record(name, {
          mode: "rate",
          target_rps: rate,
          achieved_rps: result.achieved_rps,
          requests: result.requests,
          errors: result.errors,
          cpu_cores: round(cpuS / seconds, 3),
          cpu_cores_per_1000_rps: round(perRequestCpuS * 1000, 3),
          rss_mib: after[name]!.rss_mib,
          hwm_mib: after[name]!.hwm_mib,
        });
        headline[`rss_mib_${name}_at_${rate}`] = after[name]!.rss_mib;
      }
      if (result.errors > 0) headline[`errors_at_${rate}`] = result.errors;
    }
    for (const [name, values] of Object.entries(perThousand)) {
      headline[`cores_per_1000_rps_${name}`] = round(Math.max(...values), 3);
    }
    return await recorder.finish(headline);
  } finally {
    agent.destroy();
    await stack?.stop();
    await stopAll();
  }
}
