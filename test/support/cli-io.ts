import type { CliIo } from "../../control-plane/src/cli/command.js";

/** No control plane anywhere: a `warden` command that got past validation would fail to connect instead. */
export const NO_CONTROL_PLANE: NodeJS.ProcessEnv = {
  WARDEN_API_URL: "http://127.0.0.1:9",
  WARDEN_TOKEN: "t",
  WARDEN_HOME: "/nonexistent",
};

/** A `warden` command's io with `env`, keeping the lines it prints to stdout and stderr. */
export function recordingCliIo(env: NodeJS.ProcessEnv): { io: CliIo; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    env,
    stdout: (line: string) => out.push(line),
    stderr: (line: string) => err.push(line),
  };
  return { io, out, err };
}
