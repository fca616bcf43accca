import { createPublicKey, verify, X509Certificate, constants, type KeyObject } from "node:crypto";
import { z } from "zod";
import { PolicyLoadError } from "./errors.js";
import { bundleFileDigest, JsonSyntaxError } from "./opa-json-digest.js";

/**
 * OPA bundle signature verification, matching `opa build --signing-key` and OPA's own verifier
 * (open-policy-agent/opa v1/bundle/verify.go): `.signatures.json` holds exactly one compact JWS
 * whose payload lists every file of the bundle with its digest. The JWS must verify with the
 * configured key and algorithm; every file must be listed with a matching digest and every listed
 * file must be present. Stricter than OPA where OPA is lenient on purpose: MD5/SHA-1 file digests
 * are refused, and the JWS header must name the configured algorithm.
 */
export const SIGNATURES_FILE = ".signatures.json";

export type SigningAlgorithm =
  "ES256" | "ES384" | "ES512" | "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512";

export interface VerificationOptions {
  publicKeyPem: string;
  /** Defaults to ES256. */
  algorithm?: SigningAlgorithm;
  /** When set, the token's key id (`kid`, or the legacy `keyid` claim) must equal it. */
  keyId?: string;
  /** OPA's bundle scope; the token's `scope` claim must equal it (both empty by default). */
  scope?: string;
}

const ALGORITHMS: Record<
  SigningAlgorithm,
  { digest: string; keyType: "ec" | "rsa"; curve?: string; pss?: boolean }
> = {
  ES256: { digest: "sha256", keyType: "ec", curve: "prime256v1" },
  ES384: { digest: "sha384", keyType: "ec", curve: "secp384r1" },
  ES512: { digest: "sha512", keyType: "ec", curve: "secp521r1" },
  RS256: { digest: "sha256", keyType: "rsa" },
  RS384: { digest: "sha384", keyType: "rsa" },
  RS512: { digest: "sha512", keyType: "rsa" },
  PS256: { digest: "sha256", keyType: "rsa", pss: true },
  PS384: { digest: "sha384", keyType: "rsa", pss: true },
  PS512: { digest: "sha512", keyType: "rsa", pss: true },
};

// OPA's names → node's. MD5 and SHA-1 are deliberately absent.
const FILE_DIGESTS: Record<string, string> = {
  "SHA-224": "sha224",
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
  "SHA-512-224": "sha512-224",
  "SHA-512-256": "sha512-256",
};

const signaturesSchema = z.object({ signatures: z.array(z.string()), plugin: z.string().optional() });
const headerSchema = z.object({ alg: z.string(), kid: z.string().optional(), crit: z.unknown().optional() });
const payloadSchema = z.object({
  files: z.array(z.object({ name: z.string(), hash: z.string(), algorithm: z.string() })),
  keyid: z.string().optional(),
  scope: z.string().optional(),
});

function invalid(message: string): PolicyLoadError {
  return new PolicyLoadError("signature_invalid", message);
}

function tampered(message: string): PolicyLoadError {
  return new PolicyLoadError("bundle_tampered", message);
}

function decodeSegment<T>(segment: string, schema: z.ZodType<T>, what: string): T {
  try {
    return schema.parse(JSON.parse(Buffer.from(segment, "base64url").toString("utf8")));
  } catch {
    throw invalid(`the signature's ${what} is not valid`);
  }
}

export function parseVerificationKey(pem: string, algorithm: SigningAlgorithm): KeyObject {
  let key: KeyObject;
  try {
    key = pem.includes("BEGIN CERTIFICATE") ? new X509Certificate(pem).publicKey : createPublicKey(pem);
  } catch {
    throw new PolicyLoadError(
      "verification_key_missing",
      "the configured bundle verification key is not a valid PEM public key",
    );
  }
  const expected = ALGORITHMS[algorithm];
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== expected.keyType || (expected.curve && curve !== expected.curve)) {
    throw new PolicyLoadError(
      "verification_key_missing",
      `the configured verification key (${key.asymmetricKeyType}${curve ? ` ${curve}` : ""}) cannot verify ${algorithm}`,
    );
  }
  return key;
}

function verifyJws(
  token: string,
  key: KeyObject,
  algorithm: SigningAlgorithm,
): { kid?: string; payload: z.infer<typeof payloadSchema> } {
  const parts = token.split(".");
  if (parts.length !== 3) throw invalid("the signature is not a compact JWS");
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeSegment(headerPart, headerSchema, "header");
  if (header.alg !== algorithm)
    throw invalid(`the bundle is signed with ${header.alg}, expected ${algorithm}`);
  if (header.crit !== undefined)
    throw invalid("the signature has critical header parameters this verifier does not support");

  const spec = ALGORITHMS[algorithm];
  const signingInput = Buffer.from(`${headerPart}.${payloadPart}`, "ascii");
  const signature = Buffer.from(signaturePart, "base64url");
  const ok = verify(
    spec.digest,
    signingInput,
    spec.keyType === "ec"
      ? { key, dsaEncoding: "ieee-p1363" }
      : spec.pss
        ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
        : key,
    signature,
  );
  if (!ok) throw invalid("the bundle signature does not verify with the configured key");
  return { kid: header.kid, payload: decodeSegment(payloadPart, payloadSchema, "payload") };
}

function fileDigest(name: string, bytes: Buffer, algorithm: string): Buffer {
  try {
    return bundleFileDigest(name, bytes, algorithm);
  } catch (error) {
    if (error instanceof JsonSyntaxError) throw tampered(`${name} is not valid JSON`);
    throw error;
  }
}

/** Throws PolicyLoadError unless the bundle's files are exactly the signed ones. */
export function verifyBundleSignature(
  files: ReadonlyMap<string, Buffer>,
  options: VerificationOptions,
): void {
  const algorithm = options.algorithm ?? "ES256";
  const key = parseVerificationKey(options.publicKeyPem, algorithm);
  const raw = files.get(SIGNATURES_FILE);
  if (!raw) throw new PolicyLoadError("bundle_unsigned", `the bundle is not signed (no ${SIGNATURES_FILE})`);

  let signatures: z.infer<typeof signaturesSchema>;
  try {
    signatures = signaturesSchema.parse(JSON.parse(raw.toString("utf8")));
  } catch {
    throw invalid(`${SIGNATURES_FILE} is malformed`);
  }
  if (signatures.plugin !== undefined && signatures.plugin !== "_default") {
    throw invalid(`signature plugin "${signatures.plugin}" is not supported`);
  }
  if (signatures.signatures.length !== 1) {
    throw invalid(
      `${SIGNATURES_FILE} must hold exactly one signature, found ${signatures.signatures.length}`,
    );
  }

  const { kid, payload } = verifyJws(signatures.signatures[0]!, key, algorithm);
  const keyId = kid ?? payload.keyid;
  if (options.keyId !== undefined && keyId !== options.keyId) {
    throw invalid(`the bundle is signed with key id "${keyId ?? ""}", expected "${options.keyId}"`);
  }
  if ((payload.scope ?? "") !== (options.scope ?? ""))
    throw invalid("the bundle signature's scope does not match");

  const signed = new Map<string, { hash: string; algorithm: string }>();
  for (const file of payload.files) signed.set(file.name.replace(/^\/+/, ""), file);

  for (const [name, bytes] of files) {
    if (name === SIGNATURES_FILE) continue;
    const entry = signed.get(name);
    if (!entry) throw tampered(`${name} is not covered by the bundle signature`);
    const algorithmName = FILE_DIGESTS[entry.algorithm];
    if (!algorithmName) throw invalid(`${name} is signed with unsupported digest ${entry.algorithm}`);
    const actual = fileDigest(name, bytes, algorithmName);
    if (actual.toString("hex") !== entry.hash.toLowerCase())
      throw tampered(`${name}: digest mismatch, the file was modified after signing`);
    signed.delete(name);
  }
  if (signed.size > 0)
    throw tampered(`signed file(s) missing from the bundle: ${[...signed.keys()].join(", ")}`);
}
