import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import {
  buildSidecarBootstrap,
  renderSidecarBootstrap,
  sidecarParamsSchema,
  type SidecarParams,
} from "../../lib/src/envoy/bootstrap.js";
import {
  envoyAccessLogPath,
  envoyLaunchComponent,
  envoyStat,
} from "../../lib/src/runtime/components/envoy.js";
import { RUN_DIR, startComponent, toolPath, type ManagedProcess } from "./process.js";

/**
 * A real Envoy sidecar for tests and the demo: the bootstrap rendered by lib/src/envoy/bootstrap.ts
 * into `.run/<name>/envoy.yaml`, the JSON access log in `.run/<name>/access.log`.
 */
export interface EnvoySidecar {
  readonly process: ManagedProcess;
  readonly configPath: string;
  readonly accessLogPath: string;
  readonly adminUrl: string;
  /** The parsed JSON access log lines written so far. */
  accessLog(): Record<string, unknown>[];
  /** A statistic from the admin interface (e.g. `http.agent.ext_authz.error`), 0 when absent. */
  stat(name: string): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A change to the rendered bootstrap before Envoy reads it, for measurements only (the benchmarks
 * take filters out to measure Envoy without them); tests run the bootstrap as rendered.
 */
export type BootstrapTransform = (bootstrap: Record<string, unknown>) => Record<string, unknown>;

function sidecarYaml(params: SidecarParams, transform?: BootstrapTransform): string {
  return transform
    ? stringify(transform(buildSidecarBootstrap(sidecarParamsSchema.parse(params))), {
        lineWidth: 0,
        aliasDuplicateObjects: false,
      })
    : renderSidecarBootstrap(params);
}

export function writeSidecarConfig(
  name: string,
  params: SidecarParams,
  transform?: BootstrapTransform,
): { dir: string; configPath: string } {
  const dir = join(RUN_DIR, name);
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, "envoy.yaml");
  writeFileSync(configPath, sidecarYaml(params, transform));
  return { dir, configPath };
}

export interface ValidateResult {
  ok: boolean;
  output: string;
}

/** `envoy --mode validate`: loads the whole config (clusters, filters, extensions) without serving. */
export function validateEnvoyConfig(configPath: string): Promise<ValidateResult> {
  return new Promise((resolve) => {
    execFile(
      toolPath("envoy"),
      ["--mode", "validate", "-c", configPath, "--log-level", "warn", "--disable-hot-restart"],
      { timeout: 60_000 },
      (error, stdout, stderr) => resolve({ ok: error === null, output: `${stdout}${stderr}` }),
    );
  });
}

/**
 * The runtime's Envoy component with a bootstrap rendered from `params`; ready when the listener and
 * the clusters are warm (with SPIRE: once the SDS secrets arrived).
 */
export async function startEnvoy(
  name: string,
  params: Omit<SidecarParams, "accessLogPath">,
  /** uid: run Envoy as this user (its SPIFFE identity with SPIRE's unix attestor). */
  options: { logLevel?: string; uid?: number; transform?: BootstrapTransform } = {},
): Promise<EnvoySidecar> {
  const dir = join(RUN_DIR, name);
  const accessLogPath = envoyAccessLogPath(dir);
  mkdirSync(dir, { recursive: true });
  // A fresh access log: a test reads only its own requests.
  writeFileSync(accessLogPath, "");
  const component = envoyLaunchComponent({
    dir,
    agentPort: params.agentListener.port,
    adminPort: params.admin.port,
    bootstrap: (logPath) => sidecarYaml({ ...params, accessLogPath: logPath }, options.transform),
    uid: options.uid,
    logLevel: options.logLevel,
    // Tests read the access log right after a request.
    extraArgs: ["--file-flush-interval-msec", "100"],
  });
  const envoyProcess = await startComponent(component, `${name}-envoy`);
  const adminUrl = `http://127.0.0.1:${params.admin.port}`;
  return {
    process: envoyProcess,
    configPath: join(dir, "envoy.yaml"),
    accessLogPath,
    adminUrl,
    accessLog: () => parseJsonLines(readFileSync(accessLogPath, "utf8")),
    stat: (stat) => envoyStat(adminUrl, stat),
    stop: async () => {
      await envoyProcess.stop();
    },
  };
}

function parseJsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
