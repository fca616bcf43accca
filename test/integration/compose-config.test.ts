import { execFile, execFileSync, type ExecFileOptions } from "node:child_process";
import { X509Certificate } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import pg from "pg";
import { parse } from "yaml";
import { z } from "zod";
import { MIGRATIONS_DIR } from "../../control-plane/src/files.js";
import { tlsFetch } from "../../extproc-server/src/credentials/tls-fetch.js";
import { VaultCertSession } from "../../extproc-server/src/credentials/vault-cert-session.js";
import { migrate } from "../../lib/src/db/migrate.js";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import {
  providerDestinations,
  renderSidecarBootstrap,
  type SidecarParams,
} from "../../lib/src/envoy/bootstrap.js";
import { WARDEN_COMPONENTS, workloadSpiffeId } from "../../lib/src/spiffe/naming.js";
import { VaultClient, VaultError } from "../../lib/src/vault/client.js";
import { validateEnvoyConfig } from "../harness/envoy.js";
import { startPostgres, type PostgresCluster } from "../harness/postgres.js";
import {
  freePorts,
  REPO_ROOT,
  startProcess,
  stopAll,
  toolPath,
  TOOLS_BIN,
  waitFor,
  type ManagedProcess,
  TEARDOWN_TIMEOUT_MS,
} from "../harness/process.js";
import { WORKLOAD_UIDS } from "../harness/stack.js";

/**
 * compose/ runs Warden with the official images, wired like the tests wire the real components. This
 * checks everything that can be checked without a Docker engine (compose-stack.test.ts runs the stack
 * itself on one, from the local images of compose/images/), with the real tools of .tools/bin: the
 * pinned versions, the rendered Envoy bootstrap, the SPIRE configs and bootstrap, OpenBao's config and
 * set-up, PostgreSQL's roles and the migrations, and the compose file itself (`docker-compose config`,
 * when Debian's docker-compose is installed).
 *
 * The live checks run compose's own files (configs, init scripts, the secrets init-secrets.sh makes)
 * with every container path replaced by a folder of a sandbox: a named volume becomes one folder that
 * every service mounting it shares, a Docker secret the file compose names. So a wrong mount, secret
 * name or environment variable in docker-compose.yml fails here too.
 */

const COMPOSE_DIR = join(REPO_ROOT, "compose");
const read = (path: string): string => readFileSync(path, "utf8");
const IS_ROOT = process.getuid?.() === 0;

const serviceSchema = z.object({
  image: z.string(),
  user: z.string().optional(),
  command: z.array(z.string()).optional(),
  environment: z.record(z.string()).default({}),
  volumes: z.array(z.string()).default([]),
  secrets: z.array(z.string()).default([]),
  depends_on: z.record(z.object({ condition: z.string() })).default({}),
  build: z.object({ context: z.string(), dockerfile: z.string() }).optional(),
  ports: z.array(z.string()).default([]),
});
type Service = z.infer<typeof serviceSchema>;
const composeSchema = z.object({
  services: z.record(serviceSchema),
  secrets: z.record(z.object({ file: z.string() })),
  volumes: z.record(z.null()),
});
// `<<: *warden` merges the shared settings of Warden's own services (YAML 1.1 merge keys).
const compose = composeSchema.parse(parse(read(join(COMPOSE_DIR, "docker-compose.yml")), { merge: true }));

function service(name: string): Service {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

function env(serviceName: string, name: string): string {
  const value = service(serviceName).environment[name];
  if (value === undefined) throw new Error(`${serviceName} has no ${name}`);
  return value;
}

function uidOf(serviceName: string): number {
  return Number(service(serviceName).user?.split(":")[0]);
}

/** `KEY="value"` from scripts/setup, the one place the tools' versions are pinned. */
function pinned(name: string): string {
  const match = new RegExp(`^${name}="([^"]+)"`, "m").exec(read(join(REPO_ROOT, "scripts", "setup")));
  if (!match?.[1]) throw new Error(`scripts/setup pins no ${name}`);
  return match[1];
}

const TRUST_DOMAIN = /trust_domain = "([^"]+)"/.exec(read(join(COMPOSE_DIR, "spire", "server.conf")))?.[1];
/** The Workload API socket (it also serves SDS), as the containers that mount it see it. */
const AGENT_SOCKET =
  /socket_path = "([^"]+)"/.exec(read(join(COMPOSE_DIR, "spire", "agent.conf")))?.[1] ?? "";

/** The container's view of files and volumes, on the host: a temporary folder per run. */
class Sandbox {
  readonly root = mkdtempSync(join(tmpdir(), "wcmp-"));
  readonly secretsDir = join(this.root, "secrets");
  private readonly rendered = new Map<string, string>();

  constructor() {
    // Workloads under other uids (the SPIRE checks) reach the agent socket through these folders.
    chmodSync(this.root, 0o755);
  }

  volume(name: string): string {
    if (!(name in compose.volumes)) throw new Error(`volume ${name} is not declared in docker-compose.yml`);
    const dir = join(this.root, "volumes", name);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    return dir;
  }

  secret(name: string): string {
    const declared = compose.secrets[name];
    if (!declared) throw new Error(`secret ${name} is not declared in docker-compose.yml`);
    return join(this.secretsDir, declared.file.replace(/^\.\/\.secrets\//, ""));
  }

  /** Container path → host path for one service: its secrets, bind mounts and named volumes. */
  mounts(serviceName: string): [string, string][] {
    const svc = service(serviceName);
    const mounts: [string, string][] = svc.secrets.map((name) => [`/run/secrets/${name}`, this.secret(name)]);
    for (const volume of svc.volumes) {
      const [source = "", target = ""] = volume.split(":");
      const host = source.startsWith(".") ? resolve(COMPOSE_DIR, source) : this.volume(source);
      mounts.push([target, this.rendered.get(`${serviceName}:${target}`) ?? host]);
    }
    // Longest first, so a file inside a mounted folder maps through its own mount.
    return mounts.sort((a, b) => b[0].length - a[0].length);
  }

  /** Replaces every container path of the service in `text` by its host path. */
  rewrite(serviceName: string, text: string): string {
    let out = text;
    for (const [container, host] of this.mounts(serviceName)) out = out.split(container).join(host);
    return out;
  }

  /**
   * A config file the service bind-mounts, with container paths (and `extra` network names) rewritten;
   * the service's command then points at this copy.
   */
  renderConfig(serviceName: string, target: string, extra: [string, string][] = []): string {
    const source = this.mounts(serviceName).find(([container]) => container === target)?.[1];
    if (!source) throw new Error(`${serviceName} does not mount ${target}`);
    let text = this.rewrite(serviceName, read(source));
    for (const [from, to] of extra) text = text.split(from).join(to);
    const out = join(this.root, "config", serviceName, target.replace(/\//g, "_"));
    mkdirSync(dirname(out), { recursive: true, mode: 0o755 });
    writeFileSync(out, text, { mode: 0o644 });
    this.rendered.set(`${serviceName}:${target}`, out);
    return out;
  }

  /** The service's environment on the host: container paths rewritten, plus `overrides`. */
  environment(serviceName: string, overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
    const mapped: Record<string, string> = {};
    for (const [key, value] of Object.entries(service(serviceName).environment)) {
      mapped[key] =
        value.startsWith("/") || value.startsWith("unix://") ? this.rewrite(serviceName, value) : value;
    }
    return {
      ...process.env,
      PATH: `${TOOLS_BIN}${delimiter}${process.env.PATH ?? ""}`,
      ...mapped,
      ...overrides,
    };
  }

  command(serviceName: string): string[] {
    return (service(serviceName).command ?? []).map((arg) => this.rewrite(serviceName, arg));
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  options: ExecFileOptions & { input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolveRun) => {
    const child = execFile(
      command,
      args,
      { timeout: 120_000, encoding: "utf8", ...options },
      (error, stdout, stderr) =>
        resolveRun({
          code: error ? (typeof error.code === "number" ? error.code : 1) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
        }),
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

async function mustRun(command: string, args: string[], options: ExecFileOptions & { input?: string } = {}) {
  const result = await run(command, args, options);
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(" ")} exited ${result.code}:\n${result.stdout}${result.stderr}`);
  return result;
}

function onPath(program: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, program);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = new Sandbox();
  await mustRun("bash", [join(COMPOSE_DIR, "init-secrets.sh"), sandbox.secretsDir]);
}, 60_000);

afterAll(async () => {
  await stopAll();
  sandbox?.remove();
}, TEARDOWN_TIMEOUT_MS);

describe("the images are the versions the tests run", () => {
  test("every official image in docker-compose.yml carries the version scripts/setup pins", () => {
    const spire = pinned("SPIRE_VERSION").replace(/^v/, "");
    const expected: Record<string, string> = {
      envoy: `envoyproxy/envoy:v${pinned("ENVOY_VERSION")}`,
      "spire-server": `ghcr.io/spiffe/spire-server:${spire}`,
      "spire-agent": `ghcr.io/spiffe/spire-agent:${spire}`,
      openbao: `openbao/openbao:${pinned("BAO_VERSION")}`,
      // Its images are tagged with the commit's first 8 hex digits; scripts/setup pins that commit.
      ratelimit: `envoyproxy/ratelimit:${pinned("RATELIMIT_VERSION").slice(-12, -4)}`,
    };
    for (const [name, image] of Object.entries(expected))
      expect({ name, image: service(name).image }).toEqual({ name, image });
    // Every other service runs our own image, built from compose/Dockerfile.
    const ours = Object.entries(compose.services).filter(
      ([name]) => !(name in expected) && name !== "postgres" && name !== "redis",
    );
    expect(ours.length).toBeGreaterThanOrEqual(5);
    for (const [name, svc] of ours) {
      expect({ name, image: svc.image, dockerfile: svc.build?.dockerfile }).toEqual({
        name,
        image: "agent-warden:dev",
        dockerfile: "compose/Dockerfile",
      });
    }
  });

  test("Redis is the minor version the tests run (Debian's redis-server)", () => {
    const version = execFileSync(toolPath("redis-server"), ["--version"], { encoding: "utf8" });
    const minor = /v=(\d+\.\d+)/.exec(version)?.[1];
    expect(service("redis").image).toBe(`redis:${minor}`);
  });

  test("PostgreSQL is the major version the tests run", () => {
    const version = execFileSync(toolPath("postgres"), ["--version"], { encoding: "utf8" });
    const major = /(\d+)\.\d+/.exec(version)?.[1];
    expect(service("postgres").image).toBe(`postgres:${major}`);
  });

  test("the Dockerfile builds with the pinned opa and takes the pinned spire-server CLI", () => {
    const froms = [...read(join(COMPOSE_DIR, "Dockerfile")).matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(froms).toEqual([
      `openpolicyagent/opa:${pinned("OPA_VERSION").replace(/^v/, "")}-static`,
      `ghcr.io/spiffe/spire-server:${pinned("SPIRE_VERSION").replace(/^v/, "")}`,
      "node:20-bookworm-slim",
      "node:20-bookworm-slim",
    ]);
    const engines = (JSON.parse(read(join(REPO_ROOT, "package.json"))) as { engines: { node: string } })
      .engines.node;
    expect(engines).toMatch(/^>=20\./);
  });
});

describe("Envoy", () => {
  const params = JSON.parse(read(join(COMPOSE_DIR, "params.json"))) as SidecarParams;

  test("compose/envoy.yaml is what compose/params.json renders to (run compose/render.sh after a change)", () => {
    const expected = renderSidecarBootstrap({
      ...params,
      destinations: params.destinations ?? providerDestinations(),
    });
    const committed = read(join(COMPOSE_DIR, "envoy.yaml")).replace(/^(#.*\n)+/, "");
    expect(committed).toBe(expected);
  });

  test("Envoy 1.40 accepts compose/envoy.yaml as it is (envoy --mode validate)", async () => {
    const result = await validateEnvoyConfig(join(COMPOSE_DIR, "envoy.yaml"));
    expect({ ok: result.ok, output: result.ok ? "" : result.output }).toEqual({ ok: true, output: "" });
  }, 60_000);

  test("the bootstrap names the services, ports, SPIFFE IDs and SPIRE socket the stack provides", () => {
    const td = TRUST_DOMAIN ?? "";
    expect(params.downstreamTls).toEqual({
      spireAgentSocket: expect.any(String),
      svidName: workloadSpiffeId(td, "warden", "envoy"),
      trustBundleName: `spiffe://${td}`,
    });
    expect(params.serverIdentities).toEqual({
      authz: workloadSpiffeId(td, "warden", "authz"),
      extproc: workloadSpiffeId(td, "warden", "extproc"),
    });
    expect(params.authz).toEqual({
      address: "authz-server",
      port: Number(env("authz-server", "WARDEN_AUTHZ_LISTEN").split(":")[1]),
    });
    expect(params.extproc).toEqual({
      address: "extproc-server",
      port: Number(env("extproc-server", "WARDEN_EXTPROC_LISTEN").split(":")[1]),
    });
    // Envoy reads SDS from the socket the agent serves, through the same volume.
    const socket = params.downstreamTls?.spireAgentSocket ?? "";
    expect(read(join(COMPOSE_DIR, "spire", "agent.conf"))).toContain(`socket_path = "${socket}"`);
    expect(sandbox.rewrite("envoy", socket)).toBe(sandbox.rewrite("spire-agent", socket));
    expect(sandbox.rewrite("envoy", socket)).toContain(join("volumes", "spire-agent-socket"));
    // Agents on the host reach the agent listener on loopback only.
    const port = params.agentListener.port;
    expect(service("envoy").ports).toEqual([`127.0.0.1:${port}:${port}`]);
  });
});

describe("SPIRE", () => {
  const plugins = (text: string): string[] =>
    [...text.matchAll(/^\s*(\w+)\s+"([^"]+)"\s*\{/gm)].map((m) => `${m[1]} ${m[2]}`).sort();

  test("the compose configs load the plugins the tests' configs load", () => {
    for (const file of ["server.conf", "agent.conf"]) {
      expect(plugins(read(join(COMPOSE_DIR, "spire", file)))).toEqual(
        plugins(read(join(REPO_ROOT, "spire", file))),
      );
    }
    expect(read(join(COMPOSE_DIR, "spire", "agent.conf"))).toContain(`trust_domain = "${TRUST_DOMAIN}"`);
  });

  test("spire-server and spire-agent validate accept them, and refuse a misspelt setting", async () => {
    await mustRun(toolPath("spire-server"), [
      "validate",
      "-config",
      join(COMPOSE_DIR, "spire", "server.conf"),
    ]);
    await mustRun(toolPath("spire-agent"), ["validate", "-config", join(COMPOSE_DIR, "spire", "agent.conf")]);
    const broken = join(sandbox.root, "broken-server.conf");
    writeFileSync(
      broken,
      read(join(COMPOSE_DIR, "spire", "server.conf")).replace(
        "default_x509_svid_ttl",
        "default_x509_svid_tl",
      ),
    );
    expect((await run(toolPath("spire-server"), ["validate", "-config", broken])).code).not.toBe(0);
  }, 30_000);

  test("each Warden container runs under the uid its registration entry selects (the tests' uids)", () => {
    const entries = [
      ...read(join(COMPOSE_DIR, "spire", "init.sh")).matchAll(/^\s*"([a-z-]+) (\d+)[a-z. ]*"$/gm),
    ].map((m) => [m[1] ?? "", Number(m[2])] as const);
    expect(entries.map(([name]) => name)).toEqual([...WARDEN_COMPONENTS]);
    const serviceOf: Record<string, string> = {
      envoy: "envoy",
      authz: "authz-server",
      extproc: "extproc-server",
      "control-plane": "control-plane",
    };
    for (const [name, uid] of entries)
      expect({ name, uid: uidOf(serviceOf[name] ?? name) }).toEqual({ name, uid });
    // The compose stack is one agent-side sidecar: an MCP server's inbound sidecar is not part of it.
    const { envoy, authz, extproc } = WORKLOAD_UIDS;
    expect({ envoy: uidOf("envoy"), authz: uidOf("authz-server"), extproc: uidOf("extproc-server") }).toEqual(
      {
        envoy,
        authz,
        extproc,
      },
    );
  });

  test("spire-init bootstraps the real agent with a join token and registers Warden's components; a second `up` adds nothing", async () => {
    const [serverPort] = await freePorts(1);
    const network: [string, string][] = [
      ['bind_address = "0.0.0.0"', 'bind_address = "127.0.0.1"'],
      ["bind_port = 8081", `bind_port = ${serverPort}`],
      ['server_address = "spire-server"', 'server_address = "127.0.0.1"'],
      ["server_port = 8081", `server_port = ${serverPort}`],
    ];
    sandbox.renderConfig("spire-server", "/etc/spire/server/server.conf", network);
    sandbox.renderConfig("spire-agent", "/etc/spire/agent/agent.conf", network);

    // The official images' entrypoints are `spire-server run` and `spire-agent run`.
    const server = startProcess({
      name: `compose-spire-server-${process.pid}`,
      command: toolPath("spire-server"),
      args: ["run", ...sandbox.command("spire-server")],
    });
    const spireInit = async () => {
      const [shell = "", ...args] = sandbox.command("spire-init");
      return mustRun(shell, args, {
        env: sandbox.environment("spire-init", { SPIRE_SERVER_BIN: toolPath("spire-server") }),
      });
    };
    await spireInit();
    const agent: ManagedProcess = startProcess({
      name: `compose-spire-agent-${process.pid}`,
      command: toolPath("spire-agent"),
      args: ["run", ...sandbox.command("spire-agent")],
    });
    await agent.waitForLog(/Starting Workload and SDS APIs/, 30_000);

    const serverSocket = sandbox.environment("spire-init").SPIRE_SERVER_SOCKET ?? "";
    const entries = async (spiffeId: string) =>
      (
        await mustRun(toolPath("spire-server"), [
          "entry",
          "show",
          "-socketPath",
          serverSocket,
          "-spiffeID",
          spiffeId,
        ])
      ).stdout.match(/^Entry ID/gm)?.length ?? 0;
    const td = TRUST_DOMAIN ?? "";
    for (const component of WARDEN_COMPONENTS)
      expect(await entries(workloadSpiffeId(td, "warden", component))).toBe(1);

    // A second `docker compose up`: the running agent ignores the new token; nothing is duplicated
    // and the node-alias entries are the attested agent's and the new token's.
    await spireInit();
    for (const component of WARDEN_COMPONENTS)
      expect(await entries(workloadSpiffeId(td, "warden", component))).toBe(1);
    expect(await entries(`spiffe://${td}/node/compose`)).toBe(2);
    expect(
      (await mustRun(toolPath("spire-agent"), ["healthcheck", ...socketFlag("spire-agent")])).stdout,
    ).toMatch(/healthy/i);

    // Each component's uid gets its SVID from the agent (as root only: that needs switching uids).
    if (IS_ROOT) {
      const serviceOf = {
        envoy: "envoy",
        authz: "authz-server",
        extproc: "extproc-server",
        "control-plane": "control-plane",
      };
      const sans: Record<string, string> = {};
      for (const component of WARDEN_COMPONENTS) {
        const uid = uidOf(serviceOf[component]);
        await waitFor(
          `the SVID of ${component} for uid ${uid}`,
          async () => {
            const out = mkdtempSync(join(sandbox.root, `svid-${component}-`));
            chmodSync(out, 0o777);
            const fetched = await run(
              toolPath("spire-agent"),
              ["api", "fetch", "x509", ...socketFlag(serviceOf[component]), "-write", out],
              { uid, gid: uid },
            );
            if (fetched.code !== 0) return false;
            sans[component] = new X509Certificate(read(join(out, "svid.0.pem"))).subjectAltName ?? "";
            return true;
          },
          20_000,
        );
      }
      expect(sans).toEqual({
        envoy: `DNS:envoy, DNS:localhost, URI:${workloadSpiffeId(td, "warden", "envoy")}`,
        authz: `URI:${workloadSpiffeId(td, "warden", "authz")}`,
        extproc: `URI:${workloadSpiffeId(td, "warden", "extproc")}`,
        "control-plane": `URI:${workloadSpiffeId(td, "warden", "control-plane")}`,
      });
    } else {
      console.warn("compose-config: not root, so the SVID fetch under each component's uid was skipped");
    }
    await agent.stop();
    await server.stop();
  }, 120_000);

  /** `-socketPath <host path>` of the Workload API socket, through the service's own mounts. */
  function socketFlag(serviceName: string): string[] {
    const endpoint = service(serviceName).environment.SPIFFE_ENDPOINT_SOCKET;
    if (endpoint !== undefined) expect(endpoint).toBe(`unix://${AGENT_SOCKET}`);
    return ["-socketPath", sandbox.rewrite(serviceName, AGENT_SOCKET)];
  }
});

describe("OpenBao", () => {
  test("not dev mode: openbao-init initialises, unseals and configures it; the control plane's token signs, extproc-server's certificate reads LLM keys", async () => {
    const [apiPort, clusterPort] = (await freePorts(2)) as [number, number];
    const address = `https://127.0.0.1:${apiPort}`;
    const network: [string, string][] = [
      ["0.0.0.0:8200", `127.0.0.1:${apiPort}`],
      ["0.0.0.0:8201", `127.0.0.1:${clusterPort}`],
      ["https://openbao:8200", address],
      ["https://openbao:8201", `https://127.0.0.1:${clusterPort}`],
    ];
    const config = read(join(COMPOSE_DIR, "openbao", "openbao.hcl"));
    expect(config).not.toMatch(/-dev|storage "inmem"/);
    sandbox.renderConfig("openbao", "/etc/openbao/openbao.hcl", network);
    const [bao = "", ...baoArgs] = sandbox.command("openbao");
    const startBao = () =>
      startProcess({ name: `compose-openbao-${process.pid}`, command: toolPath(bao), args: baoArgs });
    let server = startBao();

    // openbao-init runs `warden init openbao` in our image (cwd /app = the checkout here).
    const initEnv = sandbox.environment("openbao-init");
    const inContainer = (args: string[]) =>
      args.map((arg) => (arg === "https://openbao:8200" ? address : arg));
    const openbaoInit = () => {
      const [node = "", ...args] = sandbox.command("openbao-init");
      return mustRun(node, inContainer(args), { env: initEnv });
    };
    const first = await openbaoInit();
    expect(first.stdout).toMatch(/initialised, unsealed and configured/);
    // Nothing secret reaches the output.
    const initFile = sandbox.rewrite("openbao-init", "/openbao/keys/init.json");
    const rootToken = (JSON.parse(read(initFile)) as { root_token: string }).root_token;
    expect(`${first.stdout}${first.stderr}`).not.toContain(rootToken);

    // An operator stores a tenant's key (stdin, never the command line), as compose/README.md says.
    await mustRun(
      "node",
      inContainer([
        "dist/control-plane/src/cli/main.js",
        "llm-key",
        "set",
        "openai",
        "--tenant",
        "acme",
        "--openbao",
        "https://openbao:8200",
        "--ca-file",
        sandbox.rewrite("openbao-init", "/run/secrets/openbao-ca"),
        "--init-file",
        initFile,
      ]),
      { env: initEnv, input: "sk-compose-test\n" },
    );

    // The control plane, through its own mounts: the token file in the shared volume, OpenBao's CA.
    const cpEnv = sandbox.environment("control-plane");
    const ca = read(cpEnv.NODE_EXTRA_CA_CERTS ?? "");
    const transport = tlsFetch({ ca });
    const controlPlane = (token: string) => new VaultClient({ address, token, fetch: transport.fetch });
    const cpToken = read(cpEnv.VAULT_TOKEN_FILE ?? "");
    const signed = await controlPlane(cpToken).request<{ data: { signature: string } }>(
      "POST",
      "transit/sign/warden-signing",
      { input: Buffer.from("kya").toString("base64"), marshaling_algorithm: "jws" },
    );
    expect(signed.data.signature).toMatch(/^vault:v1:/);
    await expect(controlPlane(cpToken).request("GET", "warden/data/llm/acme/openai")).rejects.toMatchObject({
      status: 403,
    });

    // extproc-server logs in with its client certificate (cert auth), as it does in the stack.
    const xpEnv = sandbox.environment("extproc-server");
    const extproc = new VaultCertSession({
      address,
      caFile: xpEnv.VAULT_CACERT,
      certFile: xpEnv.WARDEN_VAULT_CLIENT_CERT ?? "",
      keyFile: xpEnv.WARDEN_VAULT_CLIENT_KEY ?? "",
      role: xpEnv.WARDEN_VAULT_CERT_ROLE,
      timeoutMs: 5_000,
    });
    const secret = await extproc.run((client) =>
      client.request<{ data: { data: { api_key: string } } }>("GET", "warden/data/llm/acme/openai"),
    );
    expect(secret.data.data.api_key).toBe("sk-compose-test");
    await expect(
      extproc.run((client) => client.request("POST", "transit/sign/warden-signing", { input: "eA==" })),
    ).rejects.toBeInstanceOf(VaultError);
    extproc.close();

    // The next `docker compose up`: OpenBao starts sealed; openbao-init unseals it with the kept key
    // and replaces the control plane's token.
    await server.stop();
    server = startBao();
    const again = await openbaoInit();
    expect(again.stdout).toMatch(/unsealed and configured/);
    expect((JSON.parse(read(initFile)) as { root_token: string }).root_token).toBe(rootToken);
    const newToken = read(cpEnv.VAULT_TOKEN_FILE ?? "");
    expect(newToken).not.toBe(cpToken);
    await expect(controlPlane(cpToken).request("GET", "transit/keys/warden-signing")).rejects.toMatchObject({
      status: 403,
    });
    const key = await controlPlane(newToken).request<{ data: { type: string } }>(
      "GET",
      "transit/keys/warden-signing",
    );
    expect(key.data.type).toBe("ecdsa-p256");
    transport.close();
    await server.stop();
  }, 180_000);
});

describe("people's identity provider", () => {
  test("dev-oidc is the control plane's default issuer: its discovery names itself as the control plane expects, and the password grant gives a token with that issuer", async () => {
    const expected = /^\$\{WARDEN_OIDC_ISSUER:-(.+)\}$/.exec(env("control-plane", "WARDEN_OIDC_ISSUER"))?.[1];
    expect(expected).toBe("http://dev-oidc:8082");
    const [port] = (await freePorts(1)) as [number];
    const [node = "", ...args] = sandbox.command("dev-oidc");
    const hostArgs = args.map((arg) =>
      arg === "8082" ? String(port) : arg === "0.0.0.0" ? "127.0.0.1" : arg,
    );
    const issuer = startProcess({ name: `compose-dev-oidc-${process.pid}`, command: node, args: hostArgs });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor("dev-oidc to answer", async () => (await fetch(`${base}/healthz`)).ok, 20_000);
      const discovery = (await (await fetch(`${base}/.well-known/openid-configuration`)).json()) as {
        issuer: string;
        jwks_uri: string;
      };
      expect(discovery.issuer).toBe(expected);
      expect(discovery.jwks_uri).toBe(`${expected}/jwks.json`);
      const accounts = JSON.parse(
        read(sandbox.rewrite("dev-oidc", "/var/lib/warden/oidc/accounts.json")),
      ) as Record<string, { password: string }>;
      const answer = await fetch(`${base}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "password",
          username: "admin",
          password: accounts.admin!.password,
        }).toString(),
      });
      const { access_token: token } = (await answer.json()) as { access_token: string };
      const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as {
        iss: string;
        aud: string;
      };
      expect(claims.iss).toBe(expected);
      expect(claims.aud).toBe(
        /^\$\{WARDEN_OIDC_AUDIENCE:-(.+)\}$/.exec(env("control-plane", "WARDEN_OIDC_AUDIENCE"))?.[1],
      );
    } finally {
      await issuer.stop();
    }
  }, 60_000);
});

describe("PostgreSQL", () => {
  let cluster: PostgresCluster | undefined;
  afterAll(async () => {
    await cluster?.destroy();
  }, TEARDOWN_TIMEOUT_MS);

  const login = (serviceName: string, variable: string) => {
    const url = new URL(env(serviceName, variable));
    return { user: url.username, database: url.pathname.slice(1), password: url.password };
  };

  test("init-roles.sh makes one login per component; the control plane migrates as the owner; the data plane's logins get only their rights", async () => {
    cluster = await startPostgres();
    // The postgres container's /run/secrets: each secret it is given, under its secret name.
    const secrets = join(sandbox.root, "postgres-secrets");
    mkdirSync(secrets, { recursive: true });
    for (const name of service("postgres").secrets) symlinkSync(sandbox.secret(name), join(secrets, name));
    const script = sandbox.rewrite("postgres", "/docker-entrypoint-initdb.d/10-warden-roles.sh");
    await mustRun("bash", [script], {
      env: sandbox.environment("postgres", {
        PGHOST: "127.0.0.1",
        PGPORT: String(cluster.port),
        WARDEN_SECRETS_DIR: secrets,
      }),
    });

    const owner = login("control-plane", "DATABASE_URL");
    const authz = login("authz-server", "WARDEN_REGISTRY_DATABASE_URL");
    const extproc = login("extproc-server", "DATABASE_URL");
    // No password in any URL: each comes from a Docker secret (PGPASSWORD_FILE).
    expect([owner.password, authz.password, extproc.password]).toEqual(["", "", ""]);
    const withPasswords = await cluster.sql<{ rolname: string; rolsuper: boolean }>(
      "SELECT rolname, rolsuper FROM pg_authid WHERE rolcanlogin AND rolpassword IS NOT NULL ORDER BY rolname",
    );
    expect(withPasswords).toEqual(
      [owner.user, authz.user, extproc.user].sort().map((rolname) => ({ rolname, rolsuper: false })),
    );

    const url = (user: string) => `postgresql://${user}@127.0.0.1:${cluster?.port}/${owner.database}`;
    const ownerDb = createPostgresDatabase(url(owner.user), { max: 1 });
    const applied = await migrate(ownerDb, MIGRATIONS_DIR);
    expect(applied.length).toBeGreaterThanOrEqual(6);
    await ownerDb.close();

    const as = async (user: string, sql: string) => {
      const client = new pg.Client({ connectionString: url(user) });
      await client.connect();
      try {
        await client.query(sql);
        return "ok";
      } catch (error) {
        return (error as Error).message;
      } finally {
        await client.end();
      }
    };
    expect(await as(authz.user, "SELECT count(*) FROM agents")).toBe("ok");
    // It appends decisions (migration 008) but reads no event's content.
    expect(await as(authz.user, "SELECT action, details FROM audit_events")).toMatch(/permission denied/);
    expect(await as(authz.user, "UPDATE audit_events SET reason = 'x'")).toMatch(/permission denied/);
    expect(await as(authz.user, "DELETE FROM agents")).toMatch(/permission denied/);
    expect(await as(extproc.user, "SELECT count(*) FROM llm_budgets")).toBe("ok");
    expect(await as(extproc.user, "SELECT count(*) FROM agents")).toMatch(/permission denied/);
    // Forced row-level security holds the owner the control plane runs as: with the setting our
    // pools send (every tenant) it sees rows; a session without one sees none (docs/tenancy.md).
    const services = createPostgresDatabase(url(owner.user), { max: 1 });
    await services.query(
      "INSERT INTO tenants (id, display_name, signing_key, sealing_key, created_by) VALUES ('acme', 'Acme', 's', 't', 'test')",
    );
    expect((await services.query("SELECT count(*)::int AS n FROM tenants")).rows).toEqual([{ n: 1 }]);
    await services.close();
    expect(await as(owner.user, "SELECT 1 / count(*) FROM tenants")).toMatch(/division by zero/);
  }, 120_000);
});

describe("the compose file", () => {
  test("every secret a service uses is declared and written by init-secrets.sh; no value in the file is one", () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const secret of svc.secrets) {
        expect({ name, secret, exists: existsSync(sandbox.secret(secret)) }).toEqual({
          name,
          secret,
          exists: true,
        });
      }
      for (const [key, value] of Object.entries(svc.environment)) {
        if (!/PASSWORD|SECRET|_TOKEN$|_KEY$/.test(key)) continue;
        // Only paths of files (secrets, token files) may stand next to such names.
        expect({ name, key, value }).toEqual({ name, key, value: expect.stringMatching(/^\//) });
      }
    }
    expect(read(join(REPO_ROOT, ".gitignore"))).toMatch(/^compose\/\.secrets\/$/m);
  });

  test("the scripts mounted into containers exist and parse (bash -n, sh -n, shellcheck when installed)", async () => {
    const scripts: [string, "bash" | "sh"][] = [
      ["init-secrets.sh", "bash"],
      ["render.sh", "bash"],
      ["spire/init.sh", "bash"],
      ["postgres/init-roles.sh", "bash"],
      ["bin/entrypoint.sh", "sh"],
    ];
    for (const [script, shell] of scripts) await mustRun(shell, ["-n", join(COMPOSE_DIR, script)]);
    const shellcheck = onPath("shellcheck");
    if (!shellcheck) {
      console.warn("compose-config: shellcheck is not installed (apt-get install shellcheck); skipped");
      return;
    }
    for (const [script, shell] of scripts)
      await mustRun(shellcheck, ["-s", shell, join(COMPOSE_DIR, script)]);
  }, 60_000);

  const dockerCompose = onPath("docker-compose");
  (dockerCompose ? test : test.skip)(
    "docker-compose config accepts it, and refuses a broken copy",
    async () => {
      const file = join(COMPOSE_DIR, "docker-compose.yml");
      const resolved = await mustRun(dockerCompose ?? "", ["-f", file, "config"], { cwd: REPO_ROOT });
      // Relative paths resolve inside the repository: the secrets folder, the configs, vault/.
      expect(resolved.stdout).toContain(join(COMPOSE_DIR, ".secrets", "openbao-ca.pem"));
      expect(resolved.stdout).toContain(`${join(REPO_ROOT, "vault")}:/warden/vault:ro`);
      const broken = read(file).replace(/service_completed_successfully/g, "service_finished");
      const refused = await run(
        dockerCompose ?? "",
        ["--project-directory", COMPOSE_DIR, "-f", "-", "config", "-q"],
        {
          input: broken,
        },
      );
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/service_finished/);
    },
    60_000,
  );
  if (!dockerCompose) {
    console.warn(
      "compose-config: docker-compose is not installed (Debian: apt-get install docker-compose); `docker-compose config` skipped",
    );
  }
});
