import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { authzConfigReference } from "../../authz-server/src/config.js";
import { controlPlaneConfigReference } from "../../control-plane/src/config.js";
import { extprocConfigReference } from "../../extproc-server/src/config.js";
import { fieldDocs, type ConfigSection } from "../../lib/src/config.js";
import {
  providerDestinations,
  renderSidecarBootstrap,
  type SidecarParams,
} from "../../lib/src/envoy/bootstrap.js";
import { workloadSpiffeId } from "../../lib/src/spiffe/naming.js";
import { validateEnvoyConfig } from "../harness/envoy.js";
import { REPO_ROOT, TOOLS_BIN } from "../harness/process.js";

/**
 * deploy/kubernetes, checked offline with the real tools scripts/setup pins: every kustomization is
 * rendered by kustomize and validated by kubeconform in strict mode against the schemas made from
 * the pinned Kubernetes API's own OpenAPI document; then the rules the manifests promise (resources,
 * hardening, default-deny NetworkPolicies, PodDisruptionBudgets, least-privilege RBAC, real settings).
 */

const KUBE_DIR = join(REPO_ROOT, "deploy", "kubernetes");
const SETUP = readFileSync(join(REPO_ROOT, "scripts", "setup"), "utf8");
const K8S_VERSION = /^K8S_SCHEMA_VERSION="([^"]+)"/m.exec(SETUP)?.[1] ?? "";
const SCHEMAS = join(REPO_ROOT, ".tools", "k8s-schemas", K8S_VERSION);
const KUSTOMIZE = join(TOOLS_BIN, "kustomize");
const KUBECONFORM = join(TOOLS_BIN, "kubeconform");
const SIDECAR_DIR = join(KUBE_DIR, "components", "warden-sidecar");
/** Building kubeconform and kustomize from an empty Go cache took about 7 minutes on a busy machine. */
const SETUP_TIMEOUT_MS = 20 * 60_000;

/** Every kustomization a user applies: the base and each overlay. */
const KUSTOMIZATIONS = [
  "base",
  ...readdirSync(join(KUBE_DIR, "overlays")).map((name) => join("overlays", name)),
];

/**
 * Containers that may not meet the restricted profile, each for a reason the platform imposes. The
 * SPIRE agent shares its socket directory on the host (root-owned) and reads every pod's /proc; the
 * SPIFFE CSI driver bind-mounts that directory into pods (privileged, mount propagation); the
 * node-driver-registrar writes to the kubelet's root-owned plugin registry.
 */
const ROOT_ALLOWED = new Set([
  "spire-system/spire-agent/spire-agent",
  "spire-system/spire-agent/spiffe-csi-driver",
  "spire-system/spire-agent/node-driver-registrar",
]);
const PRIVILEGED_ALLOWED = new Set(["spire-system/spire-agent/spiffe-csi-driver"]);

type Obj = Record<string, unknown>;
interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Obj;
  [key: string]: unknown;
}
interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string }[];
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  securityContext?: Obj;
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: Obj;
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
}

function run(command: string, args: string[], timeout = 120_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { maxBuffer: 64 * 1024 * 1024, timeout }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

async function kustomizeBuild(dir: string): Promise<string> {
  const result = await run(KUSTOMIZE, ["build", join(KUBE_DIR, dir)]);
  if (result.code !== 0) throw new Error(`kustomize build ${dir} failed:\n${result.out}`);
  return result.out;
}

/** kubeconform -strict over one rendered file: its JSON summary, or the raw output on failure. */
async function kubeconform(file: string): Promise<{ code: number; out: string }> {
  return run(KUBECONFORM, [
    "-strict",
    "-summary",
    "-output",
    "text",
    "-schema-location",
    join(SCHEMAS, "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
    file,
  ]);
}

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);
const podSpecOf = (r: Resource): PodSpec => (r.spec as { template: { spec: PodSpec } }).template.spec;
const podLabelsOf = (r: Resource): Record<string, string> =>
  (r.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
const containersOf = (r: Resource): Container[] => [
  ...(podSpecOf(r).initContainers ?? []),
  ...podSpecOf(r).containers,
];
const key = (r: Resource, c: Container) => `${r.metadata.namespace ?? ""}/${r.metadata.name}/${c.name}`;

function selects(
  selector: { matchLabels?: Record<string, string> } | undefined,
  labels: Record<string, string>,
) {
  return Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

let rendered: Map<string, Resource[]>;
let workDir: string;

/** kubeconform, kustomize and the schemas are not core tools: installed here when missing. */
async function ensureTools(): Promise<void> {
  const missing = () =>
    [KUSTOMIZE, KUBECONFORM, join(SCHEMAS, ".complete")].filter((path) => !existsSync(path));
  if (missing().length === 0) return;
  console.warn(`kubernetes-manifests: ${missing().join(", ")} missing, running scripts/setup --k8s`);
  const result = await run(join(REPO_ROOT, "scripts", "setup"), ["--k8s"], SETUP_TIMEOUT_MS);
  if (result.code !== 0 || missing().length > 0) {
    throw new Error(`scripts/setup --k8s failed (exit ${result.code}):\n${result.out.slice(-4000)}`);
  }
}

beforeAll(async () => {
  await ensureTools();
  workDir = mkdtempSync(join(tmpdir(), "warden-k8s-"));
  rendered = new Map();
  for (const dir of KUSTOMIZATIONS) {
    const text = await kustomizeBuild(dir);
    writeFileSync(join(workDir, `${dir.replace(/\//g, "_")}.yaml`), text);
    rendered.set(
      dir,
      parseAllDocuments(text).map((doc) => doc.toJS() as Resource),
    );
  }
}, SETUP_TIMEOUT_MS + 240_000);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** Every resource once (an overlay repeats the base's). */
const all = (): Resource[] => {
  const seen = new Map<string, Resource>();
  for (const r of [...rendered.values()].flat())
    seen.set(`${r.kind}/${r.metadata.namespace ?? ""}/${r.metadata.name}`, r);
  return [...seen.values()];
};
const workloads = (): Resource[] => all().filter((r) => WORKLOAD_KINDS.has(r.kind));

describe("kubeconform, strict, against the Kubernetes schemas", () => {
  test.each(KUSTOMIZATIONS)("%s renders and every resource is valid", async (dir) => {
    const result = await kubeconform(join(workDir, `${dir.replace(/\//g, "_")}.yaml`));
    expect({ code: result.code, out: result.out }).toEqual({
      code: 0,
      out: expect.stringMatching(/Invalid: 0, Errors: 0, Skipped: 0/),
    });
  });

  test("a misspelt field is refused (the validation can fail)", async () => {
    const base = readFileSync(join(workDir, "base.yaml"), "utf8");
    const broken = join(workDir, "broken.yaml");
    writeFileSync(broken, base.replace("readOnlyRootFilesystem: true", "readOnlyRootFilesytem: true"));
    const result = await kubeconform(broken);
    expect(result.code).not.toBe(0);
    expect(result.out).toContain("additional properties 'readOnlyRootFilesytem' not allowed");
  });
});

describe("what the manifests promise", () => {
  test("the platform: control plane ×2, OpenBao, SPIRE server, SPIRE agent and the data plane per node", () => {
    const names = rendered
      .get("base")!
      .filter((r) => WORKLOAD_KINDS.has(r.kind))
      .map((r) => `${r.kind}/${r.metadata.name}`);
    expect(names.sort()).toEqual(
      [
        "DaemonSet/spire-agent",
        "DaemonSet/warden-authz",
        "DaemonSet/warden-extproc",
        "Deployment/warden-control-plane",
        "StatefulSet/spire-server",
        "StatefulSet/warden-openbao",
      ].sort(),
    );
    const cp = rendered
      .get("base")!
      .find((r) => r.metadata.name === "warden-control-plane" && r.kind === "Deployment")!;
    expect(cp.spec!.replicas).toBe(2);
    // PostgreSQL is external by default: no database runs in the base, its URL comes from a Secret.
    expect(
      rendered.get("base")!.some((r) => /postgres/.test(r.metadata.name) && WORKLOAD_KINDS.has(r.kind)),
    ).toBe(false);
    const url = podSpecOf(cp).containers[0]!.env!.find((e) => e.name === "DATABASE_URL") as {
      valueFrom?: { secretKeyRef?: { name: string } };
    };
    expect(url.valueFrom?.secretKeyRef?.name).toBe("warden-postgres");
  });

  test("every container has CPU and memory requests and limits", () => {
    const lacking = workloads().flatMap((r) =>
      containersOf(r)
        .filter(
          (c) =>
            !(
              c.resources?.requests?.cpu &&
              c.resources.requests.memory &&
              c.resources.limits?.cpu &&
              c.resources.limits.memory
            ),
        )
        .map((c) => key(r, c)),
    );
    expect(lacking).toEqual([]);
  });

  test("every container: read-only root filesystem, no privilege escalation, all capabilities dropped, seccomp RuntimeDefault, non-root unless named", () => {
    const problems: string[] = [];
    for (const r of workloads()) {
      const pod = podSpecOf(r);
      for (const c of containersOf(r)) {
        const sc = c.securityContext ?? {};
        const id = key(r, c);
        if (sc.readOnlyRootFilesystem !== true) problems.push(`${id}: root filesystem writable`);
        const privileged = sc.privileged === true;
        if (privileged && !PRIVILEGED_ALLOWED.has(id)) problems.push(`${id}: privileged`);
        if (!privileged && sc.allowPrivilegeEscalation !== false)
          problems.push(`${id}: privilege escalation`);
        const drop = (sc.capabilities as { drop?: string[] } | undefined)?.drop ?? [];
        if (!drop.includes("ALL")) problems.push(`${id}: capabilities not dropped`);
        if ((sc.capabilities as { add?: string[] } | undefined)?.add?.length)
          problems.push(`${id}: adds capabilities`);
        const seccomp = (sc.seccompProfile ?? pod.securityContext?.seccompProfile) as
          { type?: string } | undefined;
        if (seccomp?.type !== "RuntimeDefault") problems.push(`${id}: seccomp ${seccomp?.type ?? "unset"}`);
        const user = (sc.runAsUser ?? pod.securityContext?.runAsUser) as number | undefined;
        const nonRoot = (sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot) === true && user !== 0;
        if (!nonRoot && !ROOT_ALLOWED.has(id)) problems.push(`${id}: may run as root`);
      }
    }
    expect(problems).toEqual([]);
  });

  test("every namespace denies by default and every workload is selected by a NetworkPolicy of its own", () => {
    const policies = all().filter((r) => r.kind === "NetworkPolicy");
    const problems: string[] = [];
    const namespaces = new Set(workloads().map((r) => r.metadata.namespace ?? ""));
    for (const ns of namespaces) {
      const denies = policies.some(
        (p) =>
          p.metadata.namespace === ns &&
          Object.keys((p.spec!.podSelector as Obj) ?? {}).length === 0 &&
          !p.spec!.ingress &&
          !p.spec!.egress &&
          JSON.stringify(p.spec!.policyTypes) === JSON.stringify(["Ingress", "Egress"]),
      );
      if (!denies) problems.push(`${ns}: no default-deny NetworkPolicy`);
    }
    for (const r of workloads()) {
      const labels = podLabelsOf(r);
      const own = policies.filter(
        (p) =>
          p.metadata.namespace === r.metadata.namespace &&
          Object.keys((p.spec!.podSelector as { matchLabels?: Obj }).matchLabels ?? {}).length > 0 &&
          selects(p.spec!.podSelector as { matchLabels?: Record<string, string> }, labels),
      );
      if (own.length === 0)
        problems.push(`${r.metadata.namespace}/${r.metadata.name}: no NetworkPolicy selects it`);
    }
    expect(problems).toEqual([]);
  });

  test("every replicated workload has a PodDisruptionBudget that keeps one running", () => {
    const pdbs = all().filter((r) => r.kind === "PodDisruptionBudget");
    const replicated = workloads().filter((r) => r.kind !== "DaemonSet" && Number(r.spec!.replicas ?? 1) > 1);
    expect(replicated.length).toBeGreaterThan(0);
    for (const r of replicated) {
      const pdb = pdbs.find(
        (p) =>
          p.metadata.namespace === r.metadata.namespace &&
          selects(p.spec!.selector as { matchLabels?: Record<string, string> }, podLabelsOf(r)),
      );
      expect({ workload: r.metadata.name, minAvailable: pdb?.spec?.minAvailable }).toEqual({
        workload: r.metadata.name,
        minAvailable: 1,
      });
    }
  });

  test("RBAC: only the SPIRE server and agent may use the Kubernetes API, each for what its plugins read", () => {
    const roles = all().filter((r) => r.kind === "ClusterRole" || r.kind === "Role");
    const rules = Object.fromEntries(roles.map((r) => [`${r.kind}/${r.metadata.name}`, r.rules]));
    expect(rules).toEqual({
      "ClusterRole/warden-spire-server": [
        { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
        { apiGroups: [""], resources: ["nodes"], verbs: ["get"] },
      ],
      "Role/spire-server": [
        { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
        {
          apiGroups: [""],
          resources: ["configmaps"],
          resourceNames: ["spire-bundle"],
          verbs: ["get", "patch"],
        },
      ],
      "ClusterRole/warden-spire-agent": [
        { apiGroups: [""], resources: ["pods", "nodes", "nodes/proxy"], verbs: ["get"] },
      ],
    });
    // Every other pod runs without a service account token.
    const withToken = workloads()
      .filter((r) => podSpecOf(r).automountServiceAccountToken !== false)
      .map((r) => r.metadata.name);
    expect(withToken.sort()).toEqual(["spire-agent", "spire-server"]);
  });

  test("every WARDEN_* variable is a setting the server it is given to validates", () => {
    const settings = (section: ConfigSection) => new Set(fieldDocs(section.shape).map((f) => f.name));
    const byProgram: [RegExp, Set<string>][] = [
      [/dist\/authz-server\//, settings(authzConfigReference)],
      [/dist\/extproc-server\//, settings(extprocConfigReference)],
      [/dist\/control-plane\/src\/main\.js/, settings(controlPlaneConfigReference)],
    ];
    const unknown: string[] = [];
    let checked = 0;
    for (const r of workloads()) {
      for (const c of containersOf(r)) {
        const names = (c.env ?? []).map((e) => e.name).filter((n) => n.startsWith("WARDEN_"));
        if (names.length === 0) continue;
        const program = [...(c.command ?? []), ...(c.args ?? [])].join(" ");
        const known = byProgram.find(([pattern]) => pattern.test(program))?.[1];
        for (const name of names) {
          checked += 1;
          if (!known?.has(name)) unknown.push(`${key(r, c)}: ${name}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
    expect(unknown).toEqual([]);
  });

  test("the agents overlay gives its agent pod the Envoy sidecar, and the sidecar's settings match the base", () => {
    const agents = rendered.get(join("overlays", "agents"))!;
    const bot = agents.find((r) => r.kind === "Deployment" && r.metadata.name === "research-bot")!;
    expect(podSpecOf(bot).containers.map((c) => c.name)).toEqual(["agent"]);
    // A native sidecar: started before the agent, stopped after it.
    expect(
      (podSpecOf(bot).initContainers ?? []).map((c) => ({
        name: c.name,
        restartPolicy: (c as { restartPolicy?: string }).restartPolicy,
      })),
    ).toEqual([{ name: "warden-envoy", restartPolicy: "Always" }]);
    const params = JSON.parse(readFileSync(join(SIDECAR_DIR, "params.json"), "utf8")) as SidecarParams;
    const base = rendered.get("base")!;
    const cp = base.find((r) => r.kind === "Deployment" && r.metadata.name === "warden-control-plane")!;
    const td = (podSpecOf(cp).containers[0]!.env as { name: string; value?: string }[]).find(
      (e) => e.name === "WARDEN_TRUST_DOMAIN",
    )!.value!;
    expect(params.downstreamTls?.svidName).toBe(workloadSpiffeId(td, "warden", "envoy"));
    expect(params.serverIdentities).toEqual({
      authz: workloadSpiffeId(td, "warden", "authz"),
      extproc: workloadSpiffeId(td, "warden", "extproc"),
    });
    // Envoy reaches the node's servers through their Services on the ports they listen on.
    for (const [name, endpoint] of [
      ["warden-authz", params.authz],
      ["warden-extproc", params.extproc],
    ] as const) {
      const service = base.find((r) => r.kind === "Service" && r.metadata.name === name)!;
      expect(endpoint.address).toBe(`${name}.warden-system.svc.cluster.local`);
      expect(service.spec!.internalTrafficPolicy).toBe("Local");
      expect((service.spec!.ports as { port: number }[])[0]!.port).toBe(endpoint.port);
    }
    for (const file of ["spire-server.conf", "spire-agent.conf"]) {
      expect(readFileSync(join(KUBE_DIR, "base", file), "utf8")).toContain(`trust_domain = "${td}"`);
    }
    expect(readFileSync(join(KUBE_DIR, "base", "spire-agent.conf"), "utf8")).toContain(
      `socket_path = "${params.downstreamTls?.spireAgentSocket}"`,
    );
  });

  test("the sidecar's envoy.yaml is what params.json renders to, and Envoy 1.40 accepts it", async () => {
    const params = JSON.parse(readFileSync(join(SIDECAR_DIR, "params.json"), "utf8")) as SidecarParams;
    const expected = renderSidecarBootstrap({
      ...params,
      destinations: params.destinations ?? providerDestinations(),
    });
    const committed = readFileSync(join(SIDECAR_DIR, "envoy.yaml"), "utf8").replace(/^(#.*\n)+/, "");
    expect(committed).toBe(expected);
    const result = await validateEnvoyConfig(join(SIDECAR_DIR, "envoy.yaml"));
    expect({ ok: result.ok, output: result.ok ? "" : result.output }).toEqual({ ok: true, output: "" });
  }, 60_000);
});
