import { X509Certificate, createPrivateKey } from "node:crypto";
import { parseSpiffeId, type SpiffeId } from "./spiffe-id.js";

/**
 * Pure X.509-SVID helpers (X509-SVID specification, spiffe/spiffe standards/X509-SVID.md): the
 * Workload API's DER encodings to PEM, the SPIFFE ID of a certificate, and verification of an SVID
 * chain against the trust bundles, as go-spiffe's x509svid.Verify does. authz-server uses them to check
 * the peer certificate Envoy forwards.
 */
export class X509SvidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "X509SvidError";
  }
}

/** Trust bundles by trust domain name ("warden.local" → its CA certificates). */
export type X509Bundles = ReadonlyMap<string, readonly X509Certificate[]>;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const MAX_CHAIN_DEPTH = 10;

/** The Workload API concatenates DER certificates without a separator: split them by their ASN.1 length. */
export function splitDerCertificates(der: Uint8Array): Buffer[] {
  const buffer = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const certificates: Buffer[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    const length = derElementLength(buffer, offset);
    certificates.push(buffer.subarray(offset, offset + length));
    offset += length;
  }
  return certificates;
}

/** Total length (header and content) of the DER SEQUENCE starting at `offset`. */
function derElementLength(buffer: Buffer, offset: number): number {
  const tag = buffer[offset];
  const first = buffer[offset + 1];
  if (tag !== 0x30 || first === undefined)
    throw new X509SvidError("malformed DER certificate (expected a SEQUENCE)");
  let contentLength = first;
  let headerLength = 2;
  if (first & 0x80) {
    const lengthBytes = first & 0x7f;
    if (lengthBytes === 0 || lengthBytes > 4)
      throw new X509SvidError("malformed DER certificate (bad length)");
    contentLength = 0;
    for (let i = 0; i < lengthBytes; i++) {
      const byte = buffer[offset + 2 + i];
      if (byte === undefined) throw new X509SvidError("malformed DER certificate (truncated length)");
      contentLength = contentLength * 256 + byte;
    }
    headerLength += lengthBytes;
  }
  const total = headerLength + contentLength;
  if (offset + total > buffer.length) throw new X509SvidError("malformed DER certificate (truncated)");
  return total;
}

export function derCertificatesToPem(der: Uint8Array): string {
  return splitDerCertificates(der)
    .map((cert) => new X509Certificate(cert).toString())
    .join("");
}

export function pkcs8DerToPem(der: Uint8Array): string {
  return createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" })
    .export({ format: "pem", type: "pkcs8" })
    .toString();
}

export function parsePemCertificates(pem: string): X509Certificate[] {
  return (pem.match(PEM_CERTIFICATE) ?? []).map((block) => new X509Certificate(block));
}

/** Bundles as the watcher delivers them (PEM by trust domain), parsed once for repeated verification. */
export function parseX509Bundles(bundlesPem: Readonly<Record<string, string>>): X509Bundles {
  return new Map(Object.entries(bundlesPem).map(([td, pem]) => [td, parsePemCertificates(pem)]));
}

/**
 * The URI SANs of a certificate. Node prints subjectAltName as `TYPE:value, TYPE:value`, and quotes a
 * value as a JSON string when it holds characters such as `,` (the CVE-2021-44532 fix), so a crafted
 * SAN cannot smuggle a second entry in.
 */
export function uriSans(cert: X509Certificate): string[] {
  const text = cert.subjectAltName;
  if (!text) return [];
  const uris: string[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(":", i);
    if (colon === -1) throw new X509SvidError("unparseable subjectAltName");
    const type = text.slice(i, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      end = endOfJsonString(text, colon + 1);
      value = JSON.parse(text.slice(colon + 1, end)) as string;
    } else {
      const separator = text.indexOf(", ", colon + 1);
      end = separator === -1 ? text.length : separator;
      value = text.slice(colon + 1, end);
    }
    if (type === "URI") uris.push(value);
    i = end + 2; // skip ", "
  }
  return uris;
}

function endOfJsonString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i + 1;
  }
  throw new X509SvidError("unterminated quoted subjectAltName value");
}

function toCertificate(cert: X509Certificate | string | Uint8Array): X509Certificate {
  if (cert instanceof X509Certificate) return cert;
  return new X509Certificate(typeof cert === "string" ? cert : Buffer.from(cert));
}

/** The SPIFFE ID of an X.509-SVID: its one and only URI SAN, which must be a valid SPIFFE ID. */
export function spiffeIdFromCertificate(cert: X509Certificate | string | Uint8Array): SpiffeId {
  const uris = uriSans(toCertificate(cert));
  if (uris.length !== 1)
    throw new X509SvidError(`an X.509-SVID has exactly one URI SAN (found ${uris.length})`);
  try {
    return parseSpiffeId(uris[0]!);
  } catch (error) {
    throw new X509SvidError(`URI SAN is not a valid SPIFFE ID: ${(error as Error).message}`);
  }
}

export interface VerifiedX509Svid {
  spiffeId: SpiffeId;
  /** leaf first, ending with the bundle certificate that anchored it */
  path: X509Certificate[];
}

/**
 * Verifies an X.509-SVID chain (leaf first, optional intermediates) against the bundle of the leaf's
 * trust domain: the leaf is not a CA, every link is signed by the next, intermediates are CAs, and
 * every certificate on the path is valid at `now`.
 */
export function verifyX509Svid(
  chain: string | readonly X509Certificate[],
  bundles: X509Bundles,
  now: Date = new Date(),
): VerifiedX509Svid {
  const certs = typeof chain === "string" ? parsePemCertificates(chain) : chain;
  const leaf = certs[0];
  if (!leaf) throw new X509SvidError("empty certificate chain");
  if (leaf.ca) throw new X509SvidError("leaf certificate is a CA certificate");
  const spiffeId = spiffeIdFromCertificate(leaf);
  const roots = bundles.get(spiffeId.trustDomain);
  if (!roots || roots.length === 0) {
    throw new X509SvidError(`no trust bundle for trust domain "${spiffeId.trustDomain}"`);
  }
  const intermediates = certs.slice(1);
  const path: X509Certificate[] = [leaf];
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    checkValidAt(current, now);
    const root = roots.find((candidate) => signedBy(current, candidate));
    if (root) {
      checkValidAt(root, now);
      path.push(root);
      return { spiffeId, path };
    }
    const parent = intermediates.find((candidate) => candidate.ca && signedBy(current, candidate));
    if (!parent)
      throw new X509SvidError(`certificate "${current.subject}" is not signed by the trust bundle`);
    path.push(parent);
    current = parent;
  }
  throw new X509SvidError("certificate chain is too long");
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

function checkValidAt(cert: X509Certificate, now: Date): void {
  if (now < new Date(cert.validFrom))
    throw new X509SvidError(`certificate "${cert.subject}" is not yet valid`);
  if (now > new Date(cert.validTo)) throw new X509SvidError(`certificate "${cert.subject}" has expired`);
}
