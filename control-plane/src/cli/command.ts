import type { ParseArgsConfig } from "node:util";
import { ApiClient, CliError } from "./api-client.js";

/** The pieces every `warden <group> <command>` shares: parsed flags, output, the API client. */
export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

export type FlagValues = Record<string, string | boolean | string[] | undefined>;

export interface CommandContext {
  io: CliIo;
  values: FlagValues;
  positionals: string[];
  json: boolean;
  client: () => ApiClient;
}

export interface CommandSpec {
  usage: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  /** Resolves to the exit code, or to nothing for success. */
  run(ctx: CommandContext): Promise<unknown>;
}

export function usageError(message: string): CliError {
  return new CliError(message, 2);
}

export function text(values: FlagValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

export function requiredText(values: FlagValues, name: string): string {
  const value = text(values, name);
  if (value === undefined) throw usageError(`--${name} is required`);
  return value;
}

export function list(values: FlagValues, name: string): string[] | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value : [String(value)])
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter(Boolean);
}

export function integer(values: FlagValues, name: string): number | undefined {
  const value = text(values, name);
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value)) throw usageError(`--${name} must be a whole number`);
  return Number(value);
}

export function jsonObject(values: FlagValues, name: string): Record<string, unknown> | undefined {
  const value = text(values, name);
  if (value === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw usageError(`--${name} must be a JSON object, e.g. '{"key":"value"}'`);
}

export function onePositional(ctx: CommandContext, what: string): string {
  const [value, ...rest] = ctx.positionals;
  if (value === undefined || rest.length) throw usageError(`give exactly one ${what}`);
  return value;
}

/** Drops undefined members so only the flags given become fields. */
export function defined<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Partial<T>;
}
