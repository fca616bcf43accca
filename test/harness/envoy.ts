import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import {
  buildSidecarBootstrap,
  renderSidecarBootstrap,
  sidecarParamsSchema,
  type SidecarParams,
} from "../../lib/src/envoy/bootstrap.js";
import { RUN_DIR, startProcess, toolPath, waitFor, type ManagedProcess } from "./process.js";

/**
 * A real Envoy sidecar for tests and the demo: the bootstrap rendered by lib/src/envoy/bootstrap.ts
 * into `.run/<name>/envoy.yaml`, the JSON access log in `.run/<name>/access.log`, ready when the
 * admin interface says LIVE.
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

export function writeSidecarConfig(
  name: string,
  params: SidecarParams,
  transform?: BootstrapTransform,
): { dir: string; configPath: string } {
  const dir = join(RUN_DIR, name);
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, "envoy.yaml");
  const yaml = transform
    ? stringify(transform(buildSidecarBootstrap(sidecarParamsSchema.parse(params))), {
        lineWidth: 0,
        aliasDuplicateObjects: false,
      })
    : renderSidecarBootstrap(params);
  writeFileSync(configPath, yaml);
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

export async function startEnvoy(
  name: string,
  params: Omit<SidecarParams, "accessLogPath">,
  /** uid: run Envoy as this user (its SPIFFE identity with SPIRE's unix attestor). */
  options: { logLevel?: string; uid?: number; transform?: BootstrapTransform } = {},
): Promise<EnvoySidecar> {
  const accessLogPath = join(RUN_DIR, name, "access.log");
  mkdirSync(join(RUN_DIR, name), { recursive: true });
  writeFileSync(accessLogPath, "");
  if (options.uid !== undefined) chmodSync(accessLogPath, 0o666);
  const { configPath } = writeSidecarConfig(name, { ...params, accessLogPath }, options.transform);
  const envoyProcess = startProcess({
    name: `${name}-envoy`,
    command: toolPath("envoy"),
    args: [
      "-c",
      configPath,
      // Several sidecars run side by side in tests; hot restart would make them share memory.
      "--disable-hot-restart",
      "--concurrency",
      "1",
      "--log-level",
      options.logLevel ?? "warn",
      // Tests read the access log right after a request.
      "--file-flush-interval-msec",
      "100",
    ],
    uid: options.uid,
  });
  const adminUrl = `http://127.0.0.1:${params.admin.port}`;
  const sidecar: EnvoySidecar = {
    process: envoyProcess,
    configPath,
    accessLogPath,
    adminUrl,
    accessLog: () => parseJsonLines(readFileSync(accessLogPath, "utf8")),
    stat: async (stat) => {
      const filter = encodeURIComponent(`^${escapeRegExp(stat)}$`);
      const response = await fetch(`${adminUrl}/stats?filter=${filter}&format=json`);
      const body = (await response.json()) as { stats?: { name?: string; value?: number }[] };
      return body.stats?.find((s) => s.name === stat)?.value ?? 0;
    },
    stop: async () => {
      await envoyProcess.stop();
    },
  };
  const exited = envoyProcess.waitForExit().then((code) => {
    throw new Error(`envoy exited (${code}) while starting; log:\n${envoyProcess.log().slice(-4000)}`);
  });
  try {
    await Promise.race([
      exited,
      waitFor(`${name} envoy ready`, async () => {
        const response = await fetch(`${adminUrl}/ready`);
        return response.status === 200 && (await response.text()).trim() === "LIVE";
      }),
    ]);
  } catch (error) {
    await envoyProcess.stop();
    throw error;
  }
  return sidecar;
}

function parseJsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
