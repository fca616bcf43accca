import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Test-only: small certificate hierarchies made with the openssl CLI (Node cannot sign certificates),
 * for unit tests of the X.509-SVID helpers here and of peer-certificate checks elsewhere.
 */
export interface TestCertificate {
  certPem: string;
  keyPem: string;
}

export interface CertificateSpec {
  subject: string;
  /** URI SANs, e.g. SPIFFE IDs */
  uris?: string[];
  dnsNames?: string[];
  ca?: boolean;
  /** signed by this issuer; self-signed when absent */
  issuer?: TestCertificate;
  days?: number;
}

export function makeCertificate(spec: CertificateSpec): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), "wcert-"));
  const path = (name: string): string => join(dir, name);
  try {
    const sans = [
      ...(spec.uris ?? []).map((u) => `URI:${u}`),
      ...(spec.dnsNames ?? []).map((d) => `DNS:${d}`),
    ];
    const extensions = [
      spec.ca ? "basicConstraints=critical,CA:TRUE" : "basicConstraints=critical,CA:FALSE",
      spec.ca ? "keyUsage=critical,keyCertSign,cRLSign" : "keyUsage=critical,digitalSignature,keyAgreement",
      "subjectKeyIdentifier=hash",
      ...(spec.issuer ? ["authorityKeyIdentifier=keyid"] : []),
      ...(sans.length > 0 ? [`subjectAltName=${sans.join(",")}`] : []),
    ];
    writeFileSync(path("ext.cnf"), `${extensions.join("\n")}\n`);
    const openssl = (...args: string[]): void => {
      execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
    };
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path("key.sec1"));
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", path("key.sec1"), "-out", path("key.pem"));
    openssl("req", "-new", "-key", path("key.pem"), "-subj", spec.subject, "-out", path("req.csr"));
    const days = String(spec.days ?? 1);
    // Signed by the issuer when there is one, else by its own key (a self-signed root).
    let signWith = ["-signkey", path("key.pem")];
    if (spec.issuer) {
      writeFileSync(path("issuer.pem"), spec.issuer.certPem);
      writeFileSync(path("issuer.key"), spec.issuer.keyPem);
      signWith = ["-CA", path("issuer.pem"), "-CAkey", path("issuer.key"), "-set_serial", String(Date.now())];
    }
    openssl(
      "x509",
      "-req",
      "-in",
      path("req.csr"),
      ...signWith,
      "-days",
      days,
      "-extfile",
      path("ext.cnf"),
      "-out",
      path("cert.pem"),
    );
    return { certPem: readFileSync(path("cert.pem"), "utf8"), keyPem: readFileSync(path("key.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An X.509-SVID as SPIRE issues it: the SPIFFE ID as the only URI SAN, signed by `issuer`. */
export function makeSvidCertificate(
  spiffeId: string,
  issuer: TestCertificate,
  spec: Partial<CertificateSpec> = {},
): TestCertificate {
  return makeCertificate({ subject: "/O=SPIRE", uris: [spiffeId], issuer, ...spec });
}
