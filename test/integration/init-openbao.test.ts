import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BaoClient, openBaoComponent, readRootToken } from "../../lib/src/runtime/components/openbao.js";
import {
  freePorts,
  REPO_ROOT,
  startProcess,
  TEARDOWN_TIMEOUT_MS,
  type ManagedProcess,
} from "../harness/process.js";
import { ensureBuilt } from "../harness/stack.js";

/**
 * `warden init openbao` against a real OpenBao that nobody has initialised (as the compose stack's
 * openbao-init job runs it): the same set-up `warden up` performs, idempotent, through the CLI.
 * The server is started with the runtime's own config and TLS material; its set-up is left to the
 * command under test.
 */
const CLI = join(REPO_ROOT, "dist", "control-plane", "src", "cli", "main.js");
const TRUST_DOMAIN = "warden.local";

let dir: string;
let bao: ManagedProcess | undefined;
let address: string;
let caFile: string;
let ports: number[];

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function warden(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function initArgs(): string[] {
  return [
    "init",
    "openbao",
    "--address",
    address,
    "--ca-file",
    caFile,
    "--init-file",
    join(dir, "keys", "init.json"),
    "--client-ca",
    join(dir, "tls", "client-ca.pem"),
    "--control-plane-token-file",
    join(dir, "control-plane-token"),
    "--trust-domain",
    TRUST_DOMAIN,
  ];
}

beforeAll(async () => {
  ensureBuilt([CLI], ["lib/src", "control-plane/src"]);
  dir = mkdtempSync(join(tmpdir(), "init-bao-"));
  ports = await freePorts(2);
  const [port, clusterPort] = ports as [number, number];
  const component = openBaoComponent(dir, port, clusterPort, TRUST_DOMAIN);
  await component.prepare?.();
  const launch = component.launch();
  bao = startProcess({ name: "init-openbao", command: launch.command, args: launch.args, env: launch.env });
  address = `https://127.0.0.1:${port}`;
  caFile = join(dir, "ca.pem");
  mkdirSync(join(dir, "keys"), { mode: 0o700 });
}, 60_000);

afterAll(async () => {
  await bao?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, TEARDOWN_TIMEOUT_MS);

describe("warden init openbao", () => {
  test("initialises, unseals and configures a new OpenBao; the root token is kept 0600, never printed", async () => {
    const result = await warden(initArgs());
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`OpenBao at ${address} initialised, unsealed and configured`);
    const initFile = join(dir, "keys", "init.json");
    expect(statSync(initFile).mode & 0o777).toBe(0o600);
    const root = readRootToken({ initFile });
    expect(result.stdout).not.toContain(root);

    const client = new BaoClient(address, caFile);
    try {
      const mounts = await client.must<Record<string, { type: string; options?: { version?: string } }>>(
        "GET",
        "sys/mounts",
        root,
      );
      expect(mounts?.["transit/"]?.type).toBe("transit");
      expect(mounts?.["warden/"]).toMatchObject({ type: "kv", options: { version: "2" } });
      for (const key of ["warden-signing", "warden-tokens"]) {
        const read = await client.must<{ data: { type: string } }>("GET", `transit/keys/${key}`, root);
        expect(read?.data.type).toBe("ecdsa-p256");
      }
      const role = await client.must<{ data: { allowed_uri_sans: string[]; token_policies: string[] } }>(
        "GET",
        "auth/cert/certs/extproc",
        root,
      );
      expect(role?.data.allowed_uri_sans).toEqual([`spiffe://${TRUST_DOMAIN}/warden/extproc`]);
      expect(role?.data.token_policies).toEqual(["extproc"]);

      // The control plane's token carries only its own policy: it can use transit, not read sys/.
      const token = readFileSync(join(dir, "control-plane-token"), "utf8").trim();
      const self = await client.must<{ data: { policies: string[] } }>("POST", "auth/token/lookup", root, {
        token,
      });
      expect(self?.data.policies).toEqual(["control-plane"]);
      expect((await client.call("GET", "sys/mounts", token)).status).toBe(403);
      const signed = await client.call("POST", "transit/sign/warden-signing", token, { input: "aGk=" });
      expect(signed.status).toBe(200);
    } finally {
      client.close();
    }
  }, 120_000);

  test("a second run keeps the root token and rotates the control plane's: the old one is revoked", async () => {
    const initFile = join(dir, "keys", "init.json");
    const rootBefore = readRootToken({ initFile });
    const tokenBefore = readFileSync(join(dir, "control-plane-token"), "utf8");
    const result = await warden(initArgs());
    expect(result.code).toBe(0);
    expect(readRootToken({ initFile })).toBe(rootBefore);
    const tokenAfter = readFileSync(join(dir, "control-plane-token"), "utf8");
    expect(tokenAfter).not.toBe(tokenBefore);
    const client = new BaoClient(address, caFile);
    try {
      const sign = (token: string) =>
        client.call("POST", "transit/sign/warden-signing", token, { input: "aGk=" });
      expect((await sign(tokenBefore)).status).toBe(403);
      expect((await sign(tokenAfter)).status).toBe(200);
    } finally {
      client.close();
    }
  }, 120_000);

  test("after a restart (sealed again) it unseals with the kept key", async () => {
    await bao!.stop();
    const launch = openBaoComponent(dir, ports[0]!, ports[1]!, TRUST_DOMAIN).launch();
    bao = startProcess({ name: "init-openbao", command: launch.command, args: launch.args, env: launch.env });
    const result = await warden(initArgs());
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const client = new BaoClient(address, caFile);
    try {
      expect((await client.call("GET", "sys/health")).status).toBe(200);
    } finally {
      client.close();
    }
  }, 120_000);

  test("bad input is one clear line, exit 2; an unreachable OpenBao names the cause", async () => {
    const missing = await warden(["init", "openbao", "--address", address]);
    expect(missing.code).toBe(2);
    // The reason on the first line, then the command's usage; no stack trace.
    expect(missing.stderr.split("\n")[0]).toMatch(/^warden init openbao: --\S+ is required$/);
    expect(missing.stderr).not.toMatch(/^\s+at /m);

    const plain = await warden([...initArgs().slice(0, 3), "http://127.0.0.1:1", ...initArgs().slice(4)]);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain("--address must be https://host:port");

    const [closed] = await freePorts(1);
    const unreachable = await warden([
      ...initArgs().slice(0, 3),
      `https://127.0.0.1:${closed}`,
      ...initArgs().slice(4),
      "--wait-seconds",
      "1",
    ]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/OpenBao to answer.*ECONNREFUSED/);
    expect(unreachable.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(join(dir, "keys", "init.json"))).toBe(true);
  }, 60_000);
});
