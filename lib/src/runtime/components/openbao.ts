import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent, request } from "node:https";
import { join } from "node:path";
import { waitFor, waitWhileAlive } from "../child.js";
import { ensureCa, ensureLeaf, type PemPair } from "../local-ca.js";
import { REPO_ROOT, toolPath } from "../layout.js";
import type { Component } from "../supervisor.js";

/**
 * OpenBao with file storage in $WARDEN_HOME/openbao, TLS on loopback (a local CA made on first
 * start). First start: initialised with one unseal key share; the unseal key and the root token are
 * kept 0600 in openbao/init.json (local use only: production uses auto-unseal with a KMS or HSM and
 * several key holders, docs/running.md). Every start: unsealed, then set up idempotently as
 * `warden init openbao` does for the compose stack: transit keys, KV v2 `warden/`, vault/*.hcl
 * policies, cert auth with extproc-server's role, and a fresh control-plane token file.
 */
export const TRANSIT_KEYS = ["warden-signing", "warden-tokens"] as const;

export interface OpenBaoFiles {
  address: string;
  /** CA of OpenBao's server certificate (VAULT_CACERT, NODE_EXTRA_CA_CERTS). */
  caFile: string;
  /** The control plane's token (only the control-plane policy), VAULT_TOKEN_FILE. */
  controlPlaneTokenFile: string;
  /** extproc-server's cert auth login (its SPIFFE ID as URI SAN). */
  extprocClient: PemPair;
  initFile: string;
}

/** `tls: false` is for tests only: a plain-HTTP listener on loopback. */
export function openBaoFiles(dir: string, port: number, tls = true): OpenBaoFiles {
  return {
    address: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    caFile: join(dir, "ca.pem"),
    controlPlaneTokenFile: join(dir, "control-plane-token"),
    extprocClient: {
      certFile: join(dir, "extproc", "client.pem"),
      keyFile: join(dir, "extproc", "client-key.pem"),
    },
    initFile: join(dir, "init.json"),
  };
}

export class BaoClient {
  private readonly agent: Agent | HttpAgent;
  private readonly send: typeof request;
  /** `caFile` null: a plain-HTTP address (tests). */
  constructor(
    readonly address: string,
    caFile: string | null,
  ) {
    this.agent =
      caFile === null
        ? new HttpAgent({ keepAlive: false })
        : new Agent({ ca: readFileSync(caFile), keepAlive: false });
    this.send = caFile === null ? httpRequest : request;
  }

  call<T = Record<string, unknown>>(
    method: string,
    path: string,
    token?: string,
    body?: unknown,
  ): Promise<{ status: number; body: T | undefined }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = this.send(
        `${this.address}/v1/${path}`,
        {
          method,
          agent: this.agent,
          timeout: 60_000,
          headers: {
            ...(token ? { "x-vault-token": token } : {}),
            ...(payload === undefined ? {} : { "content-type": "application/json" }),
          },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on("data", (part: Buffer) => parts.push(part));
          res.on("end", () => {
            const text = Buffer.concat(parts).toString("utf8");
            let parsed: T | undefined;
            try {
              parsed = text ? (JSON.parse(text) as T) : undefined;
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("OpenBao did not answer within 60 s")));
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** A call that must succeed (2xx); the error names the path and OpenBao's answer, never a token. */
  async must<T = Record<string, unknown>>(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<T | undefined> {
    const answer = await this.call<T>(method, path, token, body);
    if (answer.status >= 300)
      throw new Error(`OpenBao ${method} ${path}: ${answer.status} ${JSON.stringify(answer.body ?? "")}`);
    return answer.body;
  }

  close(): void {
    this.agent.destroy();
  }
}

interface InitMaterial {
  unseal_key: string;
  root_token: string;
}

export function readRootToken(files: Pick<OpenBaoFiles, "initFile">): string {
  return readRootTokenFrom(files.initFile);
}

function readRootTokenFrom(initFile: string): string {
  return (JSON.parse(readFileSync(initFile, "utf8")) as InitMaterial).root_token;
}

export interface OpenBaoOptions {
  /** Owner of extproc-server's client key. */
  extprocUid?: number;
  /** Default true; false (tests only) serves plain HTTP on loopback. */
  tls?: boolean;
}

export function openBaoComponent(
  dir: string,
  port: number,
  clusterPort: number,
  trustDomain: string,
  { extprocUid, tls = true }: OpenBaoOptions = {},
): Component {
  const files = openBaoFiles(dir, port, tls);
  const serverCa = tls ? files.caFile : null;
  const configFile = join(dir, "openbao.hcl");
  return {
    name: "openbao",
    ports: { https: port, cluster: clusterPort },
    async prepare() {
      // Traversable (not listable) by the components' uids; the CA keys stay in tls/ (0700).
      mkdirSync(dir, { recursive: true, mode: 0o711 });
      chmodSync(dir, 0o711);
      mkdirSync(join(dir, "tls"), { recursive: true, mode: 0o700 });
      mkdirSync(join(dir, "extproc"), { recursive: true, mode: 0o711 });
      mkdirSync(join(dir, "data"), { recursive: true, mode: 0o700 });
      const ca = ensureCa(join(dir, "tls", "ca"), "/CN=Warden local OpenBao CA");
      const server = ensureLeaf(join(dir, "tls", "server"), ca, {
        subject: "/CN=openbao",
        dnsNames: ["localhost"],
        ips: ["127.0.0.1"],
      });
      const clientCa = ensureCa(join(dir, "tls", "client-ca"), "/CN=Warden local OpenBao client CA");
      writeFileSync(files.caFile, readFileSync(ca.certFile));
      ensureLeaf(join(dir, "extproc", "client"), clientCa, {
        subject: "/CN=extproc-server",
        uris: [`spiffe://${trustDomain}/warden/extproc`],
      });
      if (extprocUid !== undefined) chownSync(files.extprocClient.keyFile, extprocUid, extprocUid);
      writeFileSync(
        configFile,
        [
          // Integrated storage (raft), one node: OpenBao 2.7 has no file storage any more.
          `storage "raft" {`,
          `  path = "${join(dir, "data")}"`,
          `  node_id = "warden-1"`,
          `}`,
          `listener "tcp" {`,
          `  address = "127.0.0.1:${port}"`,
          `  cluster_address = "127.0.0.1:${clusterPort}"`,
          ...(tls
            ? [`  tls_cert_file = "${server.certFile}"`, `  tls_key_file = "${server.keyFile}"`]
            : [`  tls_disable = true`]),
          `}`,
          `api_addr = "${files.address}"`,
          `cluster_addr = "https://127.0.0.1:${clusterPort}"`,
          `ui = false`,
          "",
        ].join("\n"),
      );
    },
    launch() {
      return {
        command: toolPath("bao"),
        args: ["server", `-config=${configFile}`],
        env: { BAO_LOG_LEVEL: "warn" },
      };
    },
    async ready(alive) {
      await setUpOpenBao({
        files: { ...files, caFile: serverCa },
        trustDomain,
        clientCaPem: readFileSync(join(dir, "tls", "client-ca.pem"), "utf8"),
        alive,
      });
    },
    async healthy() {
      const bao = new BaoClient(files.address, serverCa);
      try {
        return (await bao.call("GET", "sys/health")).status === 200;
      } catch {
        return false;
      } finally {
        bao.close();
      }
    },
  };
}

async function initialiseAndUnseal(bao: BaoClient, files: Pick<OpenBaoFiles, "initFile">): Promise<void> {
  const status = await bao.must<{ initialized: boolean }>("GET", "sys/init", "");
  if (!status?.initialized) {
    const init = await bao.must<{ keys: string[]; root_token: string }>("PUT", "sys/init", "", {
      secret_shares: 1,
      secret_threshold: 1,
    });
    if (!init?.keys[0] || !init.root_token) throw new Error("OpenBao init returned no key or token");
    const material: InitMaterial = { unseal_key: init.keys[0], root_token: init.root_token };
    writeFileSync(files.initFile, JSON.stringify(material), { mode: 0o600 });
  }
  if (!existsSync(files.initFile))
    throw new Error(`OpenBao is initialised but ${files.initFile} is missing: cannot unseal`);
  const seal = await bao.must<{ sealed: boolean }>("GET", "sys/seal-status", "");
  if (seal?.sealed) {
    const material = JSON.parse(readFileSync(files.initFile, "utf8")) as InitMaterial;
    await bao.must("PUT", "sys/unseal", "", { key: material.unseal_key });
  }
}

async function configure(bao: BaoClient, options: OpenBaoSetUp, root: string): Promise<void> {
  const { files, trustDomain, clientCaPem } = options;
  const mounts = (await bao.must<Record<string, unknown>>("GET", "sys/mounts", root)) ?? {};
  if (!("transit/" in mounts)) await bao.must("POST", "sys/mounts/transit", root, { type: "transit" });
  if (!("warden/" in mounts))
    await bao.must("POST", "sys/mounts/warden", root, { type: "kv", options: { version: "2" } });
  for (const key of TRANSIT_KEYS) {
    if ((await bao.call("GET", `transit/keys/${key}`, root)).status === 404)
      await bao.must("POST", `transit/keys/${key}`, root, { type: "ecdsa-p256" });
  }
  const policyDir = options.policyDir ?? join(REPO_ROOT, "vault");
  for (const file of readdirSync(policyDir).filter((f) => f.endsWith(".hcl"))) {
    const policy = readFileSync(join(policyDir, file), "utf8");
    await bao.must("PUT", `sys/policies/acl/${file.replace(/\.hcl$/, "")}`, root, { policy });
  }
  const auths = (await bao.must<Record<string, unknown>>("GET", "sys/auth", root)) ?? {};
  if (!("cert/" in auths)) await bao.must("POST", "sys/auth/cert", root, { type: "cert" });
  await bao.must("POST", "auth/cert/certs/extproc", root, {
    certificate: clientCaPem,
    allowed_uri_sans: [`spiffe://${trustDomain}/warden/extproc`],
    token_policies: ["extproc"],
    token_no_default_policy: true,
    token_ttl: "1h",
  });
  await rotateControlPlaneToken(bao, files.controlPlaneTokenFile, root, options.controlPlaneUid);
}

/**
 * A fresh token for the control plane at every set-up (only the `control-plane` policy): written next
 * to the old file and renamed over it, so the file always holds a working token (the control plane
 * re-reads it when OpenBao refuses its token), then the previous token is revoked.
 */
async function rotateControlPlaneToken(
  bao: BaoClient,
  tokenFile: string,
  root: string,
  ownerUid: number | undefined,
): Promise<void> {
  const previous = existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : "";
  const created = await bao.must<{ auth: { client_token: string } }>(
    "POST",
    "auth/token/create-orphan",
    root,
    {
      policies: ["control-plane"],
      no_default_policy: true,
      ttl: "768h",
      renewable: true,
      display_name: "warden-control-plane",
    },
  );
  if (!created?.auth.client_token) throw new Error("OpenBao issued no control-plane token");
  const staged = `${tokenFile}.new`;
  writeFileSync(staged, created.auth.client_token, { mode: 0o600 });
  if (ownerUid !== undefined) chownSync(staged, ownerUid, ownerUid);
  renameSync(staged, tokenFile);
  // Revoked with the root token (the control plane's own has no default policy); already invalid is fine.
  if (previous) await bao.call("POST", "auth/token/revoke", root, { token: previous });
}

export interface OpenBaoSetUp {
  /** Where OpenBao is, its CA, and the files the set-up keeps (init material, control-plane token). */
  files: Pick<OpenBaoFiles, "address" | "initFile" | "controlPlaneTokenFile"> & {
    /** OpenBao's CA; null: plain HTTP (tests only). */
    caFile: string | null;
  };
  trustDomain: string;
  /** The CA that signs extproc-server's cert-auth client certificate. */
  clientCaPem: string;
  /** The Vault policies (`<name>.hcl`); the repository's `vault/` by default. */
  policyDir?: string;
  /** Owner of the control-plane token file (when the control plane runs under another uid). */
  controlPlaneUid?: number;
  /** Called while waiting, to stop early when the server process died. */
  alive?: () => void;
  waitMs?: number;
}

/**
 * The whole OpenBao set-up, idempotent: waits for the server, initialises it on first start (one
 * unseal key share, kept with the root token in `files.initFile`, 0600), unseals it, waits until it
 * is active, then configures transit, KV, policies, cert auth and the control plane's token. Run by
 * `warden up` and by `warden init openbao` (the compose stack's openbao-init job).
 */
export async function setUpOpenBao(options: OpenBaoSetUp): Promise<void> {
  const { files } = options;
  const waitMs = options.waitMs ?? 30_000;
  const bao = new BaoClient(files.address, files.caFile);
  try {
    await waitWhileAlive(
      "OpenBao to answer",
      options.alive ?? (() => undefined),
      async () => (await bao.call("GET", "sys/health")).status > 0,
      waitMs,
    );
    await initialiseAndUnseal(bao, files);
    await waitFor(
      "OpenBao to become active",
      async () => (await bao.call("GET", "sys/health")).status === 200,
      waitMs,
    );
    await configure(bao, options, readRootTokenFrom(files.initFile));
  } finally {
    bao.close();
  }
}
