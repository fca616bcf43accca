import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Certificates for the one-machine runtime, made once with the openssl CLI (Node cannot sign
 * certificates): OpenBao's server certificate and the client certificate extproc-server logs in to
 * OpenBao with. Keys are written 0600. Production brings its own PKI (docs/running.md).
 */
export interface PemPair {
  certFile: string;
  keyFile: string;
}

export interface LeafSpec {
  subject: string;
  uris?: string[];
  dnsNames?: string[];
  ips?: string[];
  days?: number;
}

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** A self-signed CA at `<prefix>.pem` / `<prefix>-key.pem`, made when missing. */
export function ensureCa(prefix: string, subject: string): PemPair {
  const pair = { certFile: `${prefix}.pem`, keyFile: `${prefix}-key.pem` };
  if (existsSync(pair.certFile) && existsSync(pair.keyFile)) return pair;
  const dir = mkdtempSync(join(tmpdir(), "warden-ca-"));
  try {
    writeFileSync(
      join(dir, "ext.cnf"),
      "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n",
    );
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", join(dir, "key.sec1"));
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", join(dir, "key.sec1"), "-out", join(dir, "key.pem"));
    openssl("req", "-new", "-key", join(dir, "key.pem"), "-subj", subject, "-out", join(dir, "req.csr"));
    openssl(
      "x509",
      "-req",
      "-in",
      join(dir, "req.csr"),
      "-signkey",
      join(dir, "key.pem"),
      "-days",
      "3650",
      "-extfile",
      join(dir, "ext.cnf"),
      "-out",
      join(dir, "cert.pem"),
    );
    writeFileSync(pair.keyFile, readFileSync(join(dir, "key.pem")), { mode: 0o600 });
    writeFileSync(pair.certFile, readFileSync(join(dir, "cert.pem")));
    return pair;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A leaf certificate signed by `ca` at `<prefix>.pem` / `<prefix>-key.pem`, made when missing. */
export function ensureLeaf(prefix: string, ca: PemPair, spec: LeafSpec): PemPair {
  const pair = { certFile: `${prefix}.pem`, keyFile: `${prefix}-key.pem` };
  if (existsSync(pair.certFile) && existsSync(pair.keyFile)) return pair;
  const sans = [
    ...(spec.uris ?? []).map((u) => `URI:${u}`),
    ...(spec.dnsNames ?? []).map((d) => `DNS:${d}`),
    ...(spec.ips ?? []).map((ip) => `IP:${ip}`),
  ];
  const dir = mkdtempSync(join(tmpdir(), "warden-leaf-"));
  try {
    writeFileSync(
      join(dir, "ext.cnf"),
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyAgreement",
        "extendedKeyUsage=serverAuth,clientAuth",
        "subjectKeyIdentifier=hash",
        "authorityKeyIdentifier=keyid",
        ...(sans.length > 0 ? [`subjectAltName=${sans.join(",")}`] : []),
        "",
      ].join("\n"),
    );
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", join(dir, "key.sec1"));
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", join(dir, "key.sec1"), "-out", join(dir, "key.pem"));
    openssl("req", "-new", "-key", join(dir, "key.pem"), "-subj", spec.subject, "-out", join(dir, "req.csr"));
    openssl(
      "x509",
      "-req",
      "-in",
      join(dir, "req.csr"),
      "-CA",
      ca.certFile,
      "-CAkey",
      ca.keyFile,
      "-set_serial",
      String(Date.now()),
      "-days",
      String(spec.days ?? 825),
      "-extfile",
      join(dir, "ext.cnf"),
      "-out",
      join(dir, "cert.pem"),
    );
    writeFileSync(pair.keyFile, readFileSync(join(dir, "key.pem")), { mode: 0o600 });
    chmodSync(pair.keyFile, 0o600);
    writeFileSync(pair.certFile, readFileSync(join(dir, "cert.pem")));
    return pair;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
