import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSync, type MethodDefinition, type PackageDefinition } from "@grpc/proto-loader";
import { z } from "zod";

/**
 * The Workload API messages (lib/proto/spiffe/workload/workload.proto), loaded once with
 * @grpc/proto-loader. Decoded messages are checked with zod here, at the boundary, so the client
 * works with precise types.
 */
const PROTO_RELATIVE = join("lib", "proto", "spiffe", "workload", "workload.proto");

function protoPath(): string {
  // lib/src/spiffe → repository root; compiled code runs from dist/lib/src/spiffe, where the .proto
  // is not copied, so also try the root above dist/.
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    resolve(here, "../../..", PROTO_RELATIVE),
    resolve(here, "../../../..", PROTO_RELATIVE),
  ];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`Workload API proto not found (looked in ${candidates.join(", ")})`);
  return found;
}

let definition: PackageDefinition | undefined;

function packageDefinition(): PackageDefinition {
  definition ??= loadSync(protoPath(), { keepCase: false, longs: String, defaults: true, oneofs: true });
  return definition;
}

export type WorkloadApiMethodName = "FetchX509SVID" | "FetchJWTSVID" | "ValidateJWTSVID";

export function workloadApiMethod(name: WorkloadApiMethodName): MethodDefinition<object, object> {
  const service = packageDefinition()["SpiffeWorkloadAPI"];
  const method = service && !("format" in service) ? service[name] : undefined;
  if (!method) throw new Error(`SpiffeWorkloadAPI.${name} missing from ${PROTO_RELATIVE}`);
  return method;
}

const bytes = z.instanceof(Buffer);

export const x509SvidResponseSchema = z.object({
  svids: z.array(
    z.object({ spiffeId: z.string(), x509Svid: bytes, x509SvidKey: bytes, bundle: bytes, hint: z.string() }),
  ),
  crl: z.array(bytes),
  federatedBundles: z.record(bytes),
});
export type X509SvidResponse = z.infer<typeof x509SvidResponseSchema>;

export const jwtSvidResponseSchema = z.object({
  svids: z.array(z.object({ spiffeId: z.string(), svid: z.string(), hint: z.string() })),
});

/**
 * google.protobuf.Value as proto-loader decodes it (oneof members absent when unset; enums as numbers),
 * which is the shape lib/src/envoy/struct.ts converts to plain JSON.
 */
export interface DecodedValue {
  nullValue?: number | null;
  numberValue?: number | null;
  stringValue?: string | null;
  boolValue?: boolean | null;
  structValue?: DecodedStruct | null;
  listValue?: { values?: DecodedValue[] | null } | null;
}
export interface DecodedStruct {
  fields?: Record<string, DecodedValue> | null;
}

const valueSchema: z.ZodType<DecodedValue> = z.lazy(() =>
  z.object({
    nullValue: z.number().nullish(),
    numberValue: z.number().nullish(),
    stringValue: z.string().nullish(),
    boolValue: z.boolean().nullish(),
    structValue: structSchema.nullish(),
    listValue: z.object({ values: z.array(valueSchema).nullish() }).nullish(),
  }),
);
const structSchema: z.ZodType<DecodedStruct> = z.lazy(() =>
  z.object({ fields: z.record(valueSchema).nullish() }),
);

export const validateJwtSvidResponseSchema = z.object({
  spiffeId: z.string(),
  claims: structSchema.nullish(),
});
