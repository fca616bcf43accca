import { execFile, execFileSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "./process.js";

/**
 * The compose stack through the `docker compose` CLI a user runs, on the engine scripts/docker-up
 * starts (Debian's dockerd, the Compose plugin built from its Go module). Plain child processes: the
 * same commands compose/README.md gives, no client library in between.
 */
export const COMPOSE_DIR = join(REPO_ROOT, "compose");

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** DOCKER_HOST and DOCKER_CONFIG of the engine scripts/docker-up manages (it starts nothing here). */
export function dockerEnvironment(): NodeJS.ProcessEnv {
  const lines = execFileSync(join(REPO_ROOT, "scripts", "docker-up"), ["--env"], { encoding: "utf8" });
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const match of lines.matchAll(/^export (DOCKER_HOST|DOCKER_CONFIG)=(.*)$/gm))
    env[match[1]!] = match[2]!.replace(/^'(.*)'$/, "$1");
  return env;
}

/** Why the compose stack cannot run here, or null when an engine and the Compose plugin answer. */
export function whyNoEngine(env: NodeJS.ProcessEnv): string | null {
  try {
    execFileSync("docker", ["version", "--format", "{{.Server.Version}}"], {
      env,
      stdio: "pipe",
      timeout: 10_000,
    });
  } catch {
    return `no Docker engine answers at ${env.DOCKER_HOST ?? "the default socket"} (run scripts/docker-up)`;
  }
  try {
    execFileSync("docker", ["compose", "version"], { env, stdio: "pipe", timeout: 10_000 });
  } catch {
    return "the docker compose plugin is missing (run scripts/docker-up)";
  }
  return null;
}

export function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  input?: string,
  timeoutMs = 300_000,
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { env, cwd: REPO_ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input ?? "");
  });
}

/** One compose project: the files it is made of and its name; every call is `docker compose -p … -f …`. */
export class ComposeProject {
  constructor(
    readonly name: string,
    private readonly files: readonly string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  compose(args: readonly string[], input?: string, timeoutMs?: number): Promise<CommandResult> {
    const fileArgs = this.files.flatMap((file) => ["-f", file]);
    return run("docker", ["compose", "-p", this.name, ...fileArgs, ...args], this.env, input, timeoutMs);
  }

  /** Like compose(), but a non-zero exit throws with the command's output. */
  async must(args: readonly string[], input?: string, timeoutMs?: number): Promise<string> {
    const result = await this.compose(args, input, timeoutMs);
    if (result.code !== 0)
      throw new Error(
        `docker compose ${args.join(" ")} exited ${result.code}:\n${result.stderr}${result.stdout}`,
      );
    return result.stdout;
  }

  /** The host port a service's container port is published on. */
  async publishedPort(service: string, port: number): Promise<number> {
    const out = (await this.must(["port", service, String(port)])).trim();
    const published = Number(out.split(":").at(-1));
    if (!Number.isInteger(published)) throw new Error(`no published port for ${service}:${port}: ${out}`);
    return published;
  }

  /** Each container of the project: service, state ("running", "exited"), health and exit code. */
  async containers(): Promise<ContainerState[]> {
    const out = await this.must(["ps", "--all", "--format", "json"]);
    // One JSON object per line (Compose v2.21 and later).
    return out
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as ContainerState);
  }
}

export interface ContainerState {
  Service: string;
  State: string;
  Health: string;
  ExitCode: number;
}
