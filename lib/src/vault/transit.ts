import { exportJWK, importSPKI, type JWK } from "jose";
import { z } from "zod";
import type { VaultClient } from "./client.js";

/**
 * Vault transit signing for JWS: the private key never leaves Vault. Vault signs the JWS signing
 * input with `marshaling_algorithm=jws`, which returns the raw r||s signature base64url-encoded,
 * exactly what ES256 puts in a compact JWS. The public keys (one per key version) become a JWKS.
 */
const keyInfo = z.object({
  data: z.object({
    type: z.string(),
    latest_version: z.number().int().positive(),
    min_decryption_version: z.number().int().optional(),
    keys: z.record(z.object({ public_key: z.string().optional(), creation_time: z.string().optional() })),
  }),
});

const signResponse = z.object({
  data: z.object({ signature: z.string(), key_version: z.number().int().optional() }),
});

type JwsAlgorithm = "ES256" | "ES384" | "ES512";

// ECDSA only: transit returns their public keys as PEM (SPKI), which is what the JWKS needs.
const ALGORITHM_BY_TYPE: Record<string, { alg: JwsAlgorithm; hash: string }> = {
  "ecdsa-p256": { alg: "ES256", hash: "sha2-256" },
  "ecdsa-p384": { alg: "ES384", hash: "sha2-384" },
  "ecdsa-p521": { alg: "ES512", hash: "sha2-512" },
};

export interface TransitKey {
  mount: string;
  name: string;
}

export interface TransitKeyInfo {
  alg: JwsAlgorithm;
  latestVersion: number;
  /** PEM public key per version. */
  publicKeys: Map<number, string>;
  /** When each version was created (rotation time); absent when Vault does not say. */
  createdAt: Map<number, Date>;
}

export function keyId(key: TransitKey, version: number): string {
  return `${key.name}-v${version}`;
}

export async function readTransitKey(client: VaultClient, key: TransitKey): Promise<TransitKeyInfo> {
  const parsed = keyInfo.parse(
    await client.request("GET", `${key.mount}/keys/${encodeURIComponent(key.name)}`),
  );
  const algorithm = ALGORITHM_BY_TYPE[parsed.data.type];
  if (!algorithm)
    throw new Error(`transit key ${key.name} has type ${parsed.data.type}, which cannot sign JWS`);
  const publicKeys = new Map<number, string>();
  const createdAt = new Map<number, Date>();
  for (const [version, value] of Object.entries(parsed.data.keys)) {
    if (value.public_key) publicKeys.set(Number(version), value.public_key);
    const created = value.creation_time ? new Date(value.creation_time) : undefined;
    if (created && !Number.isNaN(created.getTime())) createdAt.set(Number(version), created);
  }
  return { alg: algorithm.alg, latestVersion: parsed.data.latest_version, publicKeys, createdAt };
}

export interface JwsSigningResult {
  jws: string;
  kid: string;
}

/** Signs `payload` as a compact JWS with the latest version of the transit key (or `version`). */
export async function signJwsWithTransit(
  client: VaultClient,
  key: TransitKey,
  info: TransitKeyInfo,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  version: number = info.latestVersion,
): Promise<JwsSigningResult> {
  const kid = keyId(key, version);
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const signingInput = `${encode({ ...header, alg: info.alg, kid })}.${encode(payload)}`;
  const hash = Object.values(ALGORITHM_BY_TYPE).find((a) => a.alg === info.alg)?.hash;
  const response = signResponse.parse(
    await client.request("POST", `${key.mount}/sign/${encodeURIComponent(key.name)}`, {
      input: Buffer.from(signingInput).toString("base64"),
      key_version: version,
      marshaling_algorithm: "jws",
      hash_algorithm: hash,
    }),
  );
  const match = /^vault:v(\d+):([A-Za-z0-9_-]+)$/.exec(response.data.signature);
  if (!match || Number(match[1]) !== version) throw new Error("unexpected transit signature format");
  return { jws: `${signingInput}.${match[2]}`, kid };
}

export type PublicJwk = JWK & { kid: string; alg: string; use: "sig" };

/** One JWK per key version (or per version in `versions`), oldest first. */
export async function transitJwks(
  key: TransitKey,
  info: TransitKeyInfo,
  versions?: ReadonlySet<number>,
): Promise<PublicJwk[]> {
  const keys: PublicJwk[] = [];
  for (const [version, pem] of [...info.publicKeys].sort(([a], [b]) => a - b)) {
    if (versions && !versions.has(version)) continue;
    const jwk = await exportJWK(await importSPKI(pem, info.alg));
    keys.push({ ...jwk, kid: keyId(key, version), alg: info.alg, use: "sig" });
  }
  return keys;
}
