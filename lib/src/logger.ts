import { destination as pinoDestination, pino, type DestinationStream, type Logger } from "pino";
import { redactUrl } from "./redact-url.js";

export type { Logger };

/**
 * Top-level log fields that hold a URL or request target. Their secret query parameters (OAuth
 * codes and states, tokens, keys) are redacted on every line, whoever logs them (lib/src/redact-url.ts).
 */
const URL_FIELDS = ["url", "path", "uri", "href", "location", "redirect_uri", "target"] as const;

/** pino `formatters.log`: copies the line only when a URL field actually carries a query or fragment. */
export function redactUrlFields(object: Record<string, unknown>): Record<string, unknown> {
  let out = object;
  for (const field of URL_FIELDS) {
    const value = object[field];
    if (typeof value !== "string") continue;
    const redacted = redactUrl(value);
    if (redacted === value) continue;
    if (out === object) out = { ...object };
    out[field] = redacted;
  }
  return out;
}

/** Field names whose values are credentials, one level down (`*.<name>`) on every line. */
const SECRET_FIELDS = new Set([
  "authorization",
  "cookie",
  "api_key",
  "access_token",
  "refresh_token",
  "token",
  "client_secret",
  "code_verifier",
  "id_token",
]);
/** Header names censored two levels down (`*.headers.<name>`). */
const SECRET_HEADERS = new Set(["authorization", "cookie", "x-api-key", "api-key", "proxy-authorization"]);
// Not `code`/`state`: error codes (err.code, ECONNREFUSED) must stay readable.
export const CENSOR = "[REDACTED]";

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null;

/** A shallow copy that keeps the prototype and every own property (an Error keeps message and stack). */
function cloneShallow<T extends object>(value: T): T {
  return Object.defineProperties(
    Object.create(Object.getPrototypeOf(value) as object | null) as T,
    Object.getOwnPropertyDescriptors(value),
  );
}

/** `value` with the named own fields censored, or `value` itself when it holds none of them. */
function censorFields(value: Record<string, unknown>, names: ReadonlySet<string>): Record<string, unknown> {
  let out = value;
  for (const name of names) {
    if (!Object.hasOwn(value, name) || value[name] === undefined) continue;
    if (out === value) out = cloneShallow(value);
    out[name] = CENSOR;
  }
  return out;
}

/**
 * Censors credential fields nested one level down (`*.authorization`, `*.token`, ...) and credential
 * headers two levels down (`*.headers.authorization`, ...), copying only what it changes: the
 * caller's objects are never modified. Written by hand (it replaced pino's `redact` paths, which
 * ran on every line and cost ~7% of authz-server's CPU at saturation on its decision line, whose
 * fields are all plain values): a line of primitives costs one pass over its keys.
 */
export function censorSecretFields(object: Record<string, unknown>): Record<string, unknown> {
  let out = object;
  for (const key in object) {
    if (!Object.hasOwn(object, key)) continue;
    const value = object[key];
    if (!isObject(value)) continue;
    let censored = censorFields(value, SECRET_FIELDS);
    const headers = censored.headers;
    if (isObject(headers)) {
      const cleanHeaders = censorFields(headers, SECRET_HEADERS);
      if (cleanHeaders !== headers) {
        if (censored === value) censored = cloneShallow(value);
        censored.headers = cleanHeaders;
      }
    }
    if (censored === value) continue;
    if (out === object) out = { ...object };
    out[key] = censored;
  }
  return out;
}

/**
 * JSON logs (pino). Credential-bearing fields are censored and URLs redacted as a second line of
 * defence; the first is that no code logs a credential value at all.
 */
export function createLogger(
  component: string,
  level: string = process.env.WARDEN_LOG_LEVEL ?? "info",
  destination?: DestinationStream,
): Logger {
  const options = {
    name: component,
    level,
    base: { component },
    formatters: {
      log: (object: Record<string, unknown>) => redactUrlFields(censorSecretFields(object)),
    },
  };
  // stdout written asynchronously (pino flushes what is buffered when the process exits): a slow
  // disk or a full pipe never stalls the event loop, so never every request in flight with it.
  const logger = pino(options, destination ?? pinoDestination({ dest: 1, sync: false }));
  // A child's bindings are written once, when it is made: censored then. Children inherit this
  // `child` (pino makes them with Object.create), so grandchildren are covered too.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, censorSecretFields(bindings), childOptions);
  } as typeof logger.child;
  return logger;
}
