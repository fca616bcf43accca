import { z } from "zod";

/**
 * Start-up configuration from environment variables, validated once. Every wrong value is reported
 * by its variable name with the reason, all at once, so an operator fixes them in one go.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

export function loadConfig<S extends z.ZodRawShape>(
  shape: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<S>> {
  const schema = z.object(shape);
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(shape)) input[key] = env[key] === "" ? undefined : env[key];
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join(".");
        const given = input[name];
        return `${name}: ${issue.message}${given === undefined ? " (not set)" : ` (got "${given}")`}`;
      }),
    );
  }
  return parsed.data;
}

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

export function isListenAddress(value: string): boolean {
  if (value.startsWith("unix:")) return value.length > "unix:".length;
  const match = HOST_PORT.exec(value);
  return match !== null && Number(match[2]) <= 65535;
}

/** Common field parsers. */
export const env = {
  listenAddress: (fallback: string) =>
    z.string().refine(isListenAddress, "must be host:port (port 0-65535) or unix:/path").default(fallback),
  port: (fallback?: number) => {
    const p = z.coerce.number().int().min(0).max(65535);
    return fallback === undefined ? p : p.default(fallback);
  },
  host: (fallback: string) => z.string().min(1).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(["true", "false", "1", "0", "yes", "no"], {
        errorMap: () => ({ message: "must be true or false" }),
      })
      .default(fallback ? "true" : "false")
      .transform((v) => v === "true" || v === "1" || v === "yes"),
  path: () => z.string().min(1),
  logLevel: () => z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
};

/** Prints a config error for an operator and exits; for use in `main.ts` files only. */
export function exitOnConfigError(component: string, error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`${component}: ${error.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  throw error;
}
