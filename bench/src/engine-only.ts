import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { auth } from "../../lib/src/envoy/services.js";
import { REPO_ROOT } from "../../test/harness/process.js";
import { benchToolPath, pinned, run, SERVER_CPU } from "./tools.js";

/**
 * The policy engines alone, without gRPC, on the server core: `opa bench` (opa-envoy-plugin's OPA,
 * the Rego interpreted natively) with the adapter and without it, and authz-server's Wasm engine
 * (bench/wasm-eval.ts) on the very policy input OPA's adapter built. Explains the end-to-end figures.
 */
export interface EngineFigures {
  opa_adapter_and_policy_us: number;
  opa_policy_only_us: number;
  wasm_policy_only_us: number;
  wasm_decision: string;
}

/**
 * opa-envoy-plugin's input for a CheckRequest: the message by its JSON names (bytes as base64) plus
 * the parts it parses itself (path, query, JSON body).
 */
export function opaEnvoyInput(message: Uint8Array): Record<string, unknown> {
  const decoded = auth.CheckRequest.decode(message);
  const request = JSON.parse(JSON.stringify(decoded, jsonValue)) as Record<string, unknown>;
  const http = decoded.attributes?.request?.http;
  const [rawPath = "", rawQuery = ""] = (http?.path ?? "").split("?", 2);
  const body = http?.rawBody && http.rawBody.length > 0 ? Buffer.from(http.rawBody).toString("utf8") : "";
  return {
    ...request,
    parsed_path: decodeURIComponent(rawPath).replace(/^\/+/, "").split("/"),
    parsed_query: Object.fromEntries([...new URLSearchParams(rawQuery)].map(([k, v]) => [k, [v]])),
    parsed_body: body ? (JSON.parse(body) as unknown) : null,
    truncated_body: false,
    source_principal: decoded.attributes?.source?.principal ?? "",
  };
}

/** Buffers (already through their toJSON) as base64, 64-bit integers (Long) as numbers. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  const record = value as Record<string, unknown>;
  if (record.type === "Buffer" && Array.isArray(record.data)) {
    return Buffer.from(record.data as number[]).toString("base64");
  }
  if (typeof record.low === "number" && typeof record.high === "number" && "unsigned" in record) {
    return record.high * 2 ** 32 + (record.low >>> 0);
  }
  return value;
}

const benchSchema = z.object({ N: z.number().positive(), T: z.number().positive() });

async function opaBenchUs(args: string[], query: string): Promise<number> {
  const { command, args: pinnedArgs } = pinned(SERVER_CPU, benchToolPath("opa-envoy-plugin"), [
    "bench",
    "--format",
    "json",
    "--metrics=false",
    "--benchmem=false",
    ...args,
    query,
  ]);
  const result = benchSchema.parse(JSON.parse(await run(command, pinnedArgs, { timeoutMs: 120_000 })));
  return Math.round(result.T / result.N / 10) / 100;
}

export async function engineOnly(
  dir: string,
  policyDir: string,
  opaRegistryFile: string,
  bundle: string,
  message: Uint8Array,
): Promise<EngineFigures> {
  const envoyInput = join(dir, "opa-envoy-input.json");
  writeFileSync(envoyInput, JSON.stringify(opaEnvoyInput(message)));
  const data = [
    ["-d", join(policyDir, "warden")],
    ["-d", join(policyDir, "data.json")],
    ["-d", join(REPO_ROOT, "bench", "opa-envoy", "adapter.rego")],
    ["-d", opaRegistryFile],
  ].flat();
  const evaluated = z
    .object({ result: z.array(z.object({ expressions: z.array(z.object({ value: z.unknown() })) })) })
    .parse(
      JSON.parse(
        await run(
          benchToolPath("opa-envoy-plugin"),
          ["eval", "--format", "json", ...data, "-i", envoyInput, "data.envoy.authz.policy_input"],
          { timeoutMs: 60_000 },
        ),
      ),
    );
  const policyInput = join(dir, "policy-input.json");
  writeFileSync(policyInput, JSON.stringify(evaluated.result[0]?.expressions[0]?.value));

  // Best of three runs each: the machine is shared, and the fastest run is the engine's own speed.
  const best = async (measure: () => Promise<number>) =>
    Math.min(await measure(), await measure(), await measure());
  const withAdapter = await best(() => opaBenchUs([...data, "-i", envoyInput], "data.envoy.authz.allow"));
  const policyOnly = await best(() =>
    opaBenchUs(
      ["-d", join(policyDir, "warden"), "-d", join(policyDir, "data.json"), "-i", policyInput],
      "data.warden.authz.decision",
    ),
  );
  const { command, args } = pinned(SERVER_CPU, process.execPath, [
    join(REPO_ROOT, "dist", "bench", "wasm-eval.js"),
    bundle,
    policyInput,
    "3",
  ]);
  const wasmOnce = async () =>
    z
      .object({ ns_per_op: z.number(), allow: z.boolean(), reason: z.string() })
      .parse(JSON.parse(await run(command, args, { timeoutMs: 60_000 })));
  const wasmRuns = [await wasmOnce(), await wasmOnce(), await wasmOnce()];
  const wasm = wasmRuns.reduce((a, b) => (b.ns_per_op < a.ns_per_op ? b : a));
  return {
    opa_adapter_and_policy_us: withAdapter,
    opa_policy_only_us: policyOnly,
    wasm_policy_only_us: Math.round(wasm.ns_per_op / 10) / 100,
    wasm_decision: wasm.allow ? "allowed" : wasm.reason,
  };
}
