/**
 * Decode speed of a realistic CheckRequest: protobufjs static code (what we ship) vs
 * @grpc/proto-loader (reflection + toObject, as grpc-js uses it by default).
 * Run: npm run build && node dist/bench/proto-decode.js
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as protoLoader from "@grpc/proto-loader";
import { auth } from "../lib/src/envoy/services.js";
import { realisticCheckRequestBytes } from "./fixtures/check-request.js";

const require = createRequire(import.meta.url);
const deps = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");

function measure(name: string, decode: (b: Buffer) => unknown, bytes: Buffer, iterations: number): number {
  for (let i = 0; i < 20_000; i++) decode(bytes); // warm-up: let V8 optimise
  const start = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < iterations; i++) sink += decode(bytes) ? 1 : 0;
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  if (sink !== iterations) throw new Error("decode failed");
  console.log(
    JSON.stringify({
      bench: "proto-decode",
      decoder: name,
      bytes: bytes.length,
      ns_per_decode: Math.round(ns),
    }),
  );
  return ns;
}

const definition = protoLoader.loadSync("envoy/service/auth/v3/external_auth.proto", {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(deps, d)),
});
const check = definition["envoy.service.auth.v3.Authorization"] as unknown as {
  Check: { requestDeserialize: (b: Buffer) => unknown };
};

const bytes = realisticCheckRequestBytes();
const iterations = Number(process.env.ITERATIONS ?? 200_000);
const rounds: { staticNs: number; loaderNs: number }[] = [];
for (let round = 0; round < 3; round++) {
  rounds.push({
    staticNs: measure("protobufjs-static", (b) => auth.CheckRequest.decode(b), bytes, iterations),
    loaderNs: measure("proto-loader", (b) => check.Check.requestDeserialize(b), bytes, iterations),
  });
}
const best = (k: "staticNs" | "loaderNs") => Math.min(...rounds.map((r) => r[k]));
console.log(
  `BENCH proto-decode static_ns=${Math.round(best("staticNs"))} proto_loader_ns=${Math.round(best("loaderNs"))} speedup=${(best("loaderNs") / best("staticNs")).toFixed(2)}`,
);
