import { inspect } from "node:util";
import { z } from "zod";

/**
 * Start-up configuration from environment variables, validated once, through one schema per
 * process. Every wrong value is reported by its variable name with the reason, all at once, so an
 * operator fixes them in one go. Each field carries its description (`.describe`) and default:
 * docs/configuration.md is generated from them (`npm run docs:config`).
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

export type ConfigShape = z.ZodRawShape;

export function loadConfig<S extends ConfigShape>(
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
        const shown = given === undefined ? " (not set)" : isSecret(shape[name]) ? "" : ` (got "${given}")`;
        return `${name}: ${issue.message}${shown}`;
      }),
    );
  }
  return parsed.data;
}

/**
 * A credential from the environment (a token): validated like any field, but it prints as
 * `[REDACTED]` in logs, JSON and errors; `reveal()` is the one way to read it.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return "[REDACTED]";
  }
  toString(): string {
    return "[REDACTED]";
  }
  [inspect.custom](): string {
    return "[REDACTED]";
  }
}

const SECRET_FIELD = "secret";

function isSecret(field: z.ZodTypeAny | undefined): boolean {
  return field?.description?.startsWith(`(${SECRET_FIELD}) `) === true;
}

/** One process's configuration: its schema, its reference text, and its one loader. */
export interface ConfigSection {
  readonly process: string;
  readonly intro: string;
  readonly shape: ConfigShape;
}

export interface ProcessConfig<S extends ConfigShape> {
  readonly reference: ConfigSection;
  /** Validates every variable of the schema, then the rules between them; a ConfigError lists all problems. */
  load(env?: NodeJS.ProcessEnv): z.infer<z.ZodObject<S>>;
}

export function processConfig<S extends ConfigShape>(spec: {
  process: string;
  intro: string;
  shape: S;
  /** Rules between variables (`A` needs `B`), one line per problem. */
  problems?: (config: z.infer<z.ZodObject<S>>) => string[];
}): ProcessConfig<S> {
  return {
    reference: { process: spec.process, intro: spec.intro, shape: spec.shape },
    load(env = process.env) {
      const config = loadConfig(spec.shape, env);
      const problems = spec.problems?.(config) ?? [];
      if (problems.length > 0) throw new ConfigError(problems);
      return config;
    },
  };
}

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

export function isListenAddress(value: string): boolean {
  if (value.startsWith("unix:")) return value.length > "unix:".length;
  const match = HOST_PORT.exec(value);
  return match !== null && Number(match[2]) <= 65535;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//;
const VAULT_MOUNT = /^[A-Za-z0-9_-]+$/;

/** Field parsers shared by every process's schema. */
export const env = {
  listenAddress: (fallback: string) =>
    z.string().refine(isListenAddress, "must be host:port (port 0-65535) or unix:/path").default(fallback),
  port: (fallback?: number) => {
    const p = z.coerce.number().int().min(0).max(65535);
    return fallback === undefined ? p : p.default(fallback);
  },
  host: (fallback: string) => z.string().min(1).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  nonNegativeInt: (fallback: number) => z.coerce.number().int().min(0).default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(["true", "false", "1", "0", "yes", "no"], {
        errorMap: () => ({ message: "must be true or false" }),
      })
      .default(fallback ? "true" : "false")
      .transform((v) => v === "true" || v === "1" || v === "yes"),
  path: () => z.string().min(1),
  /** Free text that must not be empty when set. */
  text: () => z.string().min(1),
  url: () => z.string().url(),
  postgresUrl: () => z.string().regex(POSTGRES_URL, "must be a postgres:// or postgresql:// URL"),
  /** A Vault secrets-engine or auth mount name. */
  vaultMount: (fallback: string) => z.string().regex(VAULT_MOUNT).default(fallback),
  logLevel: () => z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** A credential (of the given form, if any): never echoed in an error, printed as `[REDACTED]`. */
  secret: (description: string, form: RegExp = /./) =>
    z
      .string()
      .regex(form, "is not of the expected form")
      .transform((value) => new Secret(value))
      .optional()
      .describe(`(${SECRET_FIELD}) ${description}`),
};

/** What docs/configuration.md says about one variable, read from its schema field. */
export interface FieldDoc {
  readonly name: string;
  readonly description: string;
  readonly required: boolean;
  /** The default as an operator would write it, or null when there is none. */
  readonly fallback: string | null;
  readonly secret: boolean;
}

export function fieldDocs(shape: ConfigShape): FieldDoc[] {
  return Object.entries(shape).map(([name, field]) => {
    let node: z.ZodTypeAny = field;
    let description = field.description ?? "";
    let required = true;
    let fallback: string | null = null;
    for (;;) {
      description ||= node.description ?? "";
      if (node instanceof z.ZodOptional) required = false;
      if (node instanceof z.ZodDefault) {
        required = false;
        fallback ??= String(node._def.defaultValue() as unknown);
      }
      const inner = innerType(node);
      if (!inner) break;
      node = inner;
    }
    const secret = description.startsWith(`(${SECRET_FIELD}) `);
    if (secret) description = description.slice(SECRET_FIELD.length + 3);
    return { name, description, required, fallback, secret };
  });
}

function innerType(node: z.ZodTypeAny): z.ZodTypeAny | null {
  if (node instanceof z.ZodOptional || node instanceof z.ZodDefault)
    return node._def.innerType as z.ZodTypeAny;
  if (node instanceof z.ZodEffects) return node._def.schema as z.ZodTypeAny;
  return null;
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * The one way a server stops on bad configuration: the problem for an operator on stderr, exit 78
 * (EX_CONFIG). A ConfigError, or an error of one of `alsoConfiguration` (a price table or catalogue
 * file that does not check out), stops the process; anything else is rethrown. `main.ts` files only.
 */
export function exitOnConfigError(
  component: string,
  error: unknown,
  alsoConfiguration: readonly ErrorClass[] = [],
): never {
  if (error instanceof ConfigError || alsoConfiguration.some((type) => error instanceof type)) {
    process.stderr.write(`${component}: ${(error as Error).message}\n`);
    process.exit(78); // EX_CONFIG
  }
  throw error;
}
