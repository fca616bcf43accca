import { execFile } from "node:child_process";
import { z } from "zod";
import { WardenError, type ErrorCode } from "../errors.js";
import { parseSpiffeId } from "./spiffe-id.js";

/**
 * SPIRE registration entries, through the `spire-server` CLI on the server's admin socket:
 * pure argument building and output parsing (unit-tested), plus a thin runner.
 */
export interface EntrySpec {
  spiffeId: string;
  /** the node alias (spiffe://<td>/node/<name>) or the SPIRE agent's own ID */
  parentId: string;
  /** `type:value`, e.g. `unix:uid:1000`, `k8s:ns:agents`; all must match the workload */
  selectors: string[];
  x509SvidTtlSeconds?: number;
  jwtSvidTtlSeconds?: number;
  dnsNames?: string[];
  hint?: string;
}

export interface RegistrationEntry {
  id: string;
  spiffeId: string;
  parentId: string;
  selectors: string[];
  /** 0 means the server default (default_x509_svid_ttl) */
  x509SvidTtlSeconds: number;
  jwtSvidTtlSeconds: number;
  dnsNames: string[];
  hint: string;
}

export interface EntryFilter {
  spiffeId?: string;
  parentId?: string;
  /** entries whose selectors are exactly these */
  selectors?: string[];
}

const SELECTOR = /^[a-z0-9_-]+:.+$/i;

export function validateSelector(selector: string): string {
  if (!SELECTOR.test(selector))
    throw new WardenError("bad_request", `selector "${selector}" is not type:value`);
  return selector;
}

function ttlArg(flag: string, seconds: number | undefined): string[] {
  if (seconds === undefined) return [];
  if (!Number.isInteger(seconds) || seconds <= 0) {
    throw new WardenError("bad_request", `${flag} must be a positive number of seconds (got ${seconds})`);
  }
  return [flag, String(seconds)];
}

export function entryCreateArgs(socketPath: string, spec: EntrySpec): string[] {
  parseSpiffeId(spec.spiffeId);
  parseSpiffeId(spec.parentId);
  if (spec.selectors.length === 0)
    throw new WardenError("bad_request", "an entry needs at least one selector");
  return [
    "entry",
    "create",
    "-socketPath",
    socketPath,
    "-output",
    "json",
    "-spiffeID",
    spec.spiffeId,
    "-parentID",
    spec.parentId,
    ...spec.selectors.flatMap((s) => ["-selector", validateSelector(s)]),
    ...ttlArg("-x509SVIDTTL", spec.x509SvidTtlSeconds),
    ...ttlArg("-jwtSVIDTTL", spec.jwtSvidTtlSeconds),
    ...(spec.dnsNames ?? []).flatMap((dns) => ["-dns", dns]),
    ...(spec.hint ? ["-hint", spec.hint] : []),
  ];
}

export function entryShowArgs(socketPath: string, filter: EntryFilter = {}): string[] {
  return [
    "entry",
    "show",
    "-socketPath",
    socketPath,
    "-output",
    "json",
    ...(filter.spiffeId ? ["-spiffeID", parseSpiffeId(filter.spiffeId).id] : []),
    ...(filter.parentId ? ["-parentID", parseSpiffeId(filter.parentId).id] : []),
    ...(filter.selectors ?? []).flatMap((s) => ["-selector", validateSelector(s)]),
  ];
}

export function entryDeleteArgs(socketPath: string, entryId: string): string[] {
  if (!/^[A-Za-z0-9._-]+$/.test(entryId))
    throw new WardenError("bad_request", `"${entryId}" is not an entry ID`);
  return ["entry", "delete", "-socketPath", socketPath, "-output", "json", "-entryID", entryId];
}

/** Bans a SPIRE agent (node): it can neither sync nor re-attest, so its workloads get no new SVIDs. */
export function agentBanArgs(socketPath: string, agentSpiffeId: string): string[] {
  return [
    "agent",
    "ban",
    "-socketPath",
    socketPath,
    "-output",
    "json",
    "-spiffeID",
    parseSpiffeId(agentSpiffeId).id,
  ];
}

const idSchema = z.object({ trust_domain: z.string(), path: z.string() });
const entrySchema = z.object({
  id: z.string(),
  spiffe_id: idSchema,
  parent_id: idSchema,
  selectors: z.array(z.object({ type: z.string(), value: z.string() })),
  x509_svid_ttl: z.number(),
  jwt_svid_ttl: z.number(),
  dns_names: z.array(z.string()),
  hint: z.string(),
});
const statusSchema = z.object({ code: z.number(), message: z.string() });

const spiffeIdText = (id: z.infer<typeof idSchema>): string => `spiffe://${id.trust_domain}${id.path}`;

function toEntry(entry: z.infer<typeof entrySchema>): RegistrationEntry {
  return {
    id: entry.id,
    spiffeId: spiffeIdText(entry.spiffe_id),
    parentId: spiffeIdText(entry.parent_id),
    selectors: entry.selectors.map((s) => `${s.type}:${s.value}`),
    x509SvidTtlSeconds: entry.x509_svid_ttl,
    jwtSvidTtlSeconds: entry.jwt_svid_ttl,
    dnsNames: entry.dns_names,
    hint: entry.hint,
  };
}

/** gRPC status codes of the SPIRE batch APIs, as an error the user can act on. */
function batchError(status: z.infer<typeof statusSchema>, what: string): WardenError {
  const codes: Record<number, ErrorCode> = {
    3: "bad_request",
    5: "not_found",
    6: "conflict",
    9: "bad_request",
  };
  return new WardenError(codes[status.code] ?? "unavailable", `${what}: ${status.message}`);
}

/** The single result of a SPIRE batch call (one entry created or deleted). */
function onlyResult<Result extends z.ZodTypeAny>(
  stdout: string,
  result: Result,
  what: string,
): z.infer<Result> {
  const first: z.infer<Result> | undefined = z.object({ results: z.array(result) }).parse(JSON.parse(stdout))
    .results[0];
  if (!first) throw new WardenError("unavailable", `${what}: empty result`);
  return first;
}

export function parseEntryCreateOutput(stdout: string): RegistrationEntry {
  const result = onlyResult(
    stdout,
    z.object({ status: statusSchema, entry: entrySchema.nullish() }),
    "entry create",
  );
  if (result.status.code !== 0 || !result.entry) throw batchError(result.status, "entry create");
  return toEntry(result.entry);
}

export function parseEntryShowOutput(stdout: string): RegistrationEntry[] {
  return z
    .object({ entries: z.array(entrySchema) })
    .parse(JSON.parse(stdout))
    .entries.map(toEntry);
}

export function parseEntryDeleteOutput(stdout: string): string {
  const result = onlyResult(stdout, z.object({ status: statusSchema, id: z.string() }), "entry delete");
  if (result.status.code !== 0) throw batchError(result.status, `entry delete ${result.id}`);
  return result.id;
}

export interface SpireRegistrarOptions {
  /** the SPIRE server's admin socket (server.conf socket_path) */
  serverSocketPath: string;
  /** path of the spire-server binary; default WARDEN_SPIRE_SERVER_BIN or `spire-server` on PATH */
  serverBinary?: string;
  timeoutMs?: number;
}

export class SpireRegistrar {
  private readonly binary: string;

  constructor(private readonly options: SpireRegistrarOptions) {
    this.binary = options.serverBinary ?? process.env.WARDEN_SPIRE_SERVER_BIN ?? "spire-server";
  }

  async create(spec: EntrySpec): Promise<RegistrationEntry> {
    return parseEntryCreateOutput(await this.run(entryCreateArgs(this.options.serverSocketPath, spec)));
  }

  async list(filter: EntryFilter = {}): Promise<RegistrationEntry[]> {
    return parseEntryShowOutput(await this.run(entryShowArgs(this.options.serverSocketPath, filter)));
  }

  async delete(entryId: string): Promise<void> {
    parseEntryDeleteOutput(await this.run(entryDeleteArgs(this.options.serverSocketPath, entryId)));
  }

  async banAgent(agentSpiffeId: string): Promise<void> {
    await this.run(agentBanArgs(this.options.serverSocketPath, agentSpiffeId));
  }

  /** Runs the CLI; a failed batch still prints its JSON result (exit 1), so output wins over exit code. */
  private run(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.binary, args, { timeout: this.options.timeoutMs ?? 15_000 }, (error, stdout, stderr) => {
        if (stdout.trim().startsWith("{")) return resolve(stdout);
        const reason = stderr.trim() || (error ? error.message : "no output");
        reject(
          new WardenError("unavailable", `spire-server ${args.slice(0, 2).join(" ")} failed: ${reason}`),
        );
      });
    });
  }
}
