import { parseArgs, type ParseArgsConfig } from "node:util";
import type { ApiClient } from "./api-client.js";
import { usageError } from "./cli-error.js";
import type { FlagValues } from "./flags.js";

/** How every `warden` command talks to the world: its environment and its output, line by line. */
export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

export type FlagOptions = NonNullable<ParseArgsConfig["options"]>;

/** The pieces every `warden <group> <command>` shares: parsed flags, output, the API client. */
export interface CommandContext {
  io: CliIo;
  values: FlagValues;
  positionals: string[];
  client: () => ApiClient;
  /** `--json`: the value as JSON; otherwise what `human` makes of it. */
  print<T>(value: T, human: (value: T) => string): void;
}

export interface CommandSpec {
  usage: string;
  options: FlagOptions;
  /** Resolves to the exit code, or to nothing for success. */
  run(ctx: CommandContext): Promise<unknown>;
}

/** Strict flag parsing (unknown flags refused); a parse failure is a usage error. */
export function parseFlags<const Options extends FlagOptions>(argv: readonly string[], options: Options) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true as const, strict: true as const, options });
  } catch (error) {
    throw usageError((error as Error).message);
  }
}

/**
 * A group whose first word names the action (`warden spire list`, `warden policy sign`): `parse`
 * turns the words after `warden <name>` into a command, `run` carries it out.
 */
export interface ActionGroup<Command extends { action: string }> {
  name: string;
  usage: string;
  parse(argv: readonly string[], env: NodeJS.ProcessEnv): Command;
  /** Resolves to the exit code. */
  run(command: Command, io: CliIo): Promise<number>;
}

/**
 * Anything wrong with the words prints `warden <group>: <problem>` and the group's usage (exit 2);
 * a failed action prints `warden <group> <action>: <problem>` (exit 1).
 */
export async function runActionGroup<Command extends { action: string }>(
  group: ActionGroup<Command>,
  argv: readonly string[],
  io: CliIo,
): Promise<number> {
  let command: Command;
  try {
    command = group.parse(argv, io.env);
  } catch (error) {
    io.stderr(`warden ${group.name}: ${(error as Error).message}\n${group.usage}`);
    return 2;
  }
  try {
    return await group.run(command, io);
  } catch (error) {
    io.stderr(`warden ${group.name} ${command.action}: ${(error as Error).message}`);
    return 1;
  }
}
