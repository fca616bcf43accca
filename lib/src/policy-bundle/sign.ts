import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { CompactSign } from "jose";
import { manifestRevision } from "./manifest.js";
import { bundleFileDigest } from "./opa-json-digest.js";
import { SIGNATURES_FILE, verifyBundleSignature, type SigningAlgorithm } from "./signature.js";
import { readTarGz, writeTarGz } from "./tar.js";

/**
 * Signs an already-built OPA bundle the way `opa build --signing-key` does (OPA's signature format,
 * open-policy-agent/opa v1/bundle/sign.go): `.signatures.json` holds one compact JWS, header
 * `{alg, kid, typ: "JWT"}`, payload `{files: [{name, hash, algorithm: "SHA-256"}], keyid}`.
 * data.json and .manifest are hashed as JSON values (the digest authz-server and OPA verify),
 * every other file as bytes. The archive is rewritten with the signature first, as OPA writes it,
 * and the result is verified with the key's public half before anyone ships it.
 */
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = [
  "ES256",
  "ES384",
  "ES512",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
];

export interface SigningOptions {
  privateKey: KeyObject;
  algorithm: SigningAlgorithm;
  /** OPA's default verification key id is "default"; it goes into the JWS `kid` and `keyid`. */
  keyId?: string;
}

export interface SignedBundle {
  bytes: Buffer;
  revision: string | null;
  /** Names of the files the signature covers. */
  files: string[];
  /** True when the input already carried a signature, which this one replaces. */
  replacedSignature: boolean;
}

export class SigningError extends Error {
  override name = "SigningError";
}

/** Reads a PEM private key (PKCS#8, SEC1 or PKCS#1). */
export function readPrivateKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    throw new SigningError("the signing key is not a PEM private key");
  }
}

/** The algorithm a key signs with when none is given: ES256/384/512 by curve, RS256 for RSA. */
export function defaultAlgorithmFor(key: KeyObject): SigningAlgorithm {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === "ec") {
    if (curve === "prime256v1") return "ES256";
    if (curve === "secp384r1") return "ES384";
    if (curve === "secp521r1") return "ES512";
  }
  if (key.asymmetricKeyType === "rsa") return "RS256";
  if (key.asymmetricKeyType === "rsa-pss") return "PS256";
  throw new SigningError(
    `a ${key.asymmetricKeyType ?? "symmetric"}${curve ? ` ${curve}` : ""} key cannot sign policy bundles; use EC P-256/P-384/P-521 or RSA`,
  );
}

function sha256(name: string, bytes: Buffer): string {
  try {
    return bundleFileDigest(name, bytes, "sha256").toString("hex");
  } catch {
    throw new SigningError(`${name} is not valid JSON`);
  }
}

export async function signBundle(bundle: Buffer, options: SigningOptions): Promise<SignedBundle> {
  const files = readTarGz(bundle);
  const replacedSignature = files.delete(SIGNATURES_FILE);
  const keyId = options.keyId ?? "default";

  const covered = [...files].map(([name, bytes]) => ({
    name,
    hash: sha256(name, bytes),
    algorithm: "SHA-256",
  }));
  // No `scope` claim: authz-server, like OPA by default, verifies bundles with an empty scope.
  const payload = { files: covered, keyid: keyId };

  let token: string;
  try {
    token = await new CompactSign(Buffer.from(JSON.stringify(payload), "utf8"))
      .setProtectedHeader({ alg: options.algorithm, kid: keyId, typ: "JWT" })
      .sign(options.privateKey);
  } catch (error) {
    throw new SigningError(
      `cannot sign with ${options.algorithm}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const signatures = Buffer.from(JSON.stringify({ signatures: [token], plugin: "_default" }), "utf8");
  const signed = new Map<string, Buffer>([[SIGNATURES_FILE, signatures], ...files]);

  // Never hand out a bundle our own verifier would refuse.
  verifyBundleSignature(signed, {
    publicKeyPem: createPublicKey(options.privateKey).export({ type: "spki", format: "pem" }).toString(),
    algorithm: options.algorithm,
    keyId,
  });

  return {
    bytes: writeTarGz(signed),
    revision: manifestRevision(files),
    files: covered.map((f) => f.name),
    replacedSignature,
  };
}
