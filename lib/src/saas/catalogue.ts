import { readFileSync } from "node:fs";
import { z } from "zod";
import { shippedFile } from "../shipped-file.js";

/**
 * The SaaS services users connect their accounts to (Google Drive, GitHub, Salesforce, Microsoft
 * 365, …): OAuth endpoints, how our scope names (`google-drive:read`) map to the provider's scopes,
 * which operations each scope allows, and where the API lives. Pure configuration: a service is
 * added by adding an entry to the JSON file (`WARDEN_SAAS_CATALOGUE`), never by code. Read and
 * checked once at start-up by the control plane (connecting accounts) and extproc-server (injecting
 * tokens), so both agree on every name.
 */
export const SAAS_OPERATIONS = ["read", "write"] as const;
export type SaasOperation = (typeof SAAS_OPERATIONS)[number];

const httpsOrLoopbackUrl = z
  .string()
  .url()
  .refine((value) => {
    const url = new URL(value);
    // Plain HTTP only to loopback (local stubs); a real provider endpoint is always TLS.
    return url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.test(url.hostname));
  }, "must be an https:// URL (http:// only for 127.0.0.1/localhost)");
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

const SERVICE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const HOST_PATTERN = /^(\*\.)?[a-z0-9.-]+$/;

const scopeSchema = z
  .object({
    /** What a delegation holding this scope may do: `read` (GET, HEAD, OPTIONS) and/or `write` (the rest). */
    grants: z.array(z.enum(SAAS_OPERATIONS)).min(1),
    /** The provider's own scopes asked for at consent when a user connects with this scope. */
    provider_scopes: z.array(z.string().min(1)).min(1),
  })
  .strict();

const serviceSchema = z
  .object({
    display_name: z.string().min(1),
    authorize_url: httpsOrLoopbackUrl,
    token_url: httpsOrLoopbackUrl,
    /** RFC 7009 revocation endpoint; null when the provider has none (disconnect then only forgets the token). */
    revoke_url: httpsOrLoopbackUrl.nullable(),
    /** Where the connected account is described (shown to the user before the connection is stored). */
    userinfo_url: httpsOrLoopbackUrl.optional(),
    /** The provider's issuer identifier: an `iss` in the authorization response must equal it (RFC 9207). */
    issuer: z.string().url().optional(),
    /** The provider always sends `iss` (its `authorization_response_iss_parameter_supported`): a callback without it is refused. */
    iss_parameter_supported: z.boolean().default(false),
    /** Extra query parameters of the authorization request (Google needs `access_type=offline` for a refresh token). */
    authorize_params: z.record(z.string()).default({}),
    client_auth: z.enum(["client_secret_post", "client_secret_basic"]).default("client_secret_post"),
    /** API hosts (`*.my.salesforce.com` matches one label or more in front). */
    hosts: z.array(z.string().regex(HOST_PATTERN, "must be a host name or *.domain")).min(1),
    /** Path prefixes of the API on those hosts; empty: the whole host. */
    path_prefixes: z.array(z.string().startsWith("/")).default([]),
    /** The sidecar route agents call (`<sidecar>/google-drive/...`). */
    route_prefix: z.string().regex(/^\/[a-z0-9-]+\/$/, "must look like /name/"),
    /** Methods that read; every other method writes. */
    read_methods: z.array(z.string().regex(/^[A-Z]+$/)).default(["GET", "HEAD", "OPTIONS"]),
    /**
     * Request headers this service accepts credentials in, beyond the shared list in
     * lib/src/credentials.ts: whatever the agent sends under them is removed before the request goes up.
     */
    credential_headers: z
      .array(z.string().regex(/^[a-z0-9-]+$/, "must be a lower-case header name"))
      .default([]),
    scopes: z
      .record(z.string().regex(/^[a-z0-9-]+:[a-z0-9:_-]+$/, "must look like service:operation"), scopeSchema)
      .refine((scopes) => Object.keys(scopes).length > 0, "needs at least one scope"),
  })
  .strict();

const catalogueSchema = z.record(z.string().regex(SERVICE_NAME, "must be a lower-case slug"), serviceSchema);

export type SaasServiceConfig = z.output<typeof serviceSchema>;

export interface SaasService extends SaasServiceConfig {
  readonly name: string;
}

export class SaasCatalogueError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`the SaaS service catalogue ${file} is invalid:\n  - ${problems.join("\n  - ")}`);
    this.name = "SaasCatalogueError";
  }
}

export class SaasCatalogue {
  private readonly byName: ReadonlyMap<string, SaasService>;

  constructor(services: Iterable<SaasService>) {
    this.byName = new Map([...services].map((service) => [service.name, service]));
  }

  get services(): readonly SaasService[] {
    return [...this.byName.values()];
  }

  service(name: string): SaasService | undefined {
    return this.byName.get(name);
  }

  /** Every scope name of every service. */
  scopeNames(): string[] {
    return this.services.flatMap((service) => Object.keys(service.scopes));
  }

  /** The service a scope name belongs to (`google-drive:read` → google-drive), if any. */
  serviceOfScope(scope: string): SaasService | undefined {
    return this.services.find((service) => Object.hasOwn(service.scopes, scope));
  }
}

/** `read` or `write` for a request method, by the service's read methods. */
export function operationOf(service: SaasService, method: string): SaasOperation {
  return service.read_methods.includes(method.toUpperCase()) ? "read" : "write";
}

/** Our scope names that allow `operation` on the service (the policy data's `scopes.<operation>` list). */
export function scopesAllowing(service: SaasService, operation: SaasOperation): string[] {
  return Object.entries(service.scopes)
    .filter(([, scope]) => scope.grants.includes(operation))
    .map(([name]) => name);
}

/** The provider scopes to ask for when a user connects with `scopes` (deduplicated, in order). */
export function providerScopesFor(service: SaasService, scopes: readonly string[]): string[] {
  const out = new Set<string>();
  for (const scope of scopes)
    for (const providerScope of Object.hasOwn(service.scopes, scope)
      ? service.scopes[scope]!.provider_scopes
      : [])
      out.add(providerScope);
  return [...out];
}

/** Does a host match a pattern (`*.my.salesforce.com` matches `acme.my.salesforce.com`)? */
export function hostMatches(pattern: string, host: string): boolean {
  const bare = host.toLowerCase().replace(/:\d+$/, "");
  if (!pattern.startsWith("*.")) return bare === pattern;
  return bare.endsWith(pattern.slice(1)) && bare.length > pattern.length - 1;
}

export function parseSaasCatalogue(raw: unknown, file = "<inline>"): SaasCatalogue {
  const parsed = catalogueSchema.safeParse(raw);
  if (!parsed.success) {
    throw new SaasCatalogueError(
      file,
      parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`),
    );
  }
  const problems: string[] = [];
  for (const [name, service] of Object.entries(parsed.data)) {
    for (const scope of Object.keys(service.scopes)) {
      if (!scope.startsWith(`${name}:`)) problems.push(`${name}.scopes.${scope}: must start with "${name}:"`);
    }
    if (service.route_prefix !== `/${name}/`)
      problems.push(`${name}.route_prefix: must be /${name}/ (the sidecar routes by service name)`);
  }
  for (const [name, service] of Object.entries(parsed.data))
    if (service.iss_parameter_supported && !service.issuer)
      problems.push(`${name}.iss_parameter_supported: needs issuer (the value iss must equal)`);
  if (problems.length) throw new SaasCatalogueError(file, problems);
  return new SaasCatalogue(Object.entries(parsed.data).map(([name, service]) => ({ ...service, name })));
}

/** The shipped catalogue, found from src/ and from dist/ alike. */
export function defaultSaasCatalogueFile(): string {
  return shippedFile(
    import.meta.url,
    ["./services.json", "../../../../lib/src/saas/services.json"],
    "lib/src/saas/services.json not found; set WARDEN_SAAS_CATALOGUE",
  );
}

/** Reads and checks a catalogue file; a SaasCatalogueError names every wrong entry. */
export function loadSaasCatalogue(file: string = defaultSaasCatalogueFile()): SaasCatalogue {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new SaasCatalogueError(file, [error instanceof Error ? error.message : String(error)]);
  }
  return parseSaasCatalogue(raw, file);
}
