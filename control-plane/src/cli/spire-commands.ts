import {
  DEFAULT_TRUST_DOMAIN,
  nodeAliasSpiffeId,
  workloadSpiffeId,
  type WorkloadKind,
} from "../../../lib/src/spiffe/naming.js";
import {
  SpireRegistrar,
  validateSelector,
  type EntrySpec,
  type RegistrationEntry,
} from "../../../lib/src/spiffe/registration.js";
import { parseSpiffeId, parseTrustDomain } from "../../../lib/src/spiffe/spiffe-id.js";
import { CliError, usageError } from "./cli-error.js";
import { parseFlags, runActionGroup, type CliIo } from "./command.js";
import * as flags from "./flags.js";

/** `warden spire register|list|delete|ban`: SPIRE registration entries under Warden's naming scheme. */
export const SPIRE_USAGE = `usage:
  warden spire register (--agent <name> | --mcp <name> | --warden <component> | --spiffe-id <id>)
                        --selector <type:value> [--selector ...] [--ttl <s>] [--jwt-ttl <s>] [--dns <name>] [--parent <id>]
  warden spire list     [--agent <name> | --mcp <name> | --warden <component> | --spiffe-id <id>] [--json]
  warden spire delete   (<entry-id> | --agent <name> | --mcp <name> | --warden <component> | --spiffe-id <id>)
  warden spire ban      <spire-agent-spiffe-id>
options: --trust-domain (WARDEN_TRUST_DOMAIN, default ${DEFAULT_TRUST_DOMAIN})
         --socket       (WARDEN_SPIRE_SERVER_SOCKET, default /tmp/spire-server/private/api.sock)
         --parent       (WARDEN_SPIRE_PARENT_ID, default spiffe://<trust-domain>/node/local)
         --spire-server (WARDEN_SPIRE_SERVER_BIN, default spire-server on PATH)
Deleting an entry stops new SVIDs for it; SVIDs already issued stay valid until they expire.`;

export type SpireCommand =
  | { action: "register"; socketPath: string; serverBinary?: string; entry: EntrySpec }
  | { action: "list"; socketPath: string; serverBinary?: string; spiffeId?: string; json: boolean }
  | { action: "delete"; socketPath: string; serverBinary?: string; entryId?: string; spiffeId?: string }
  | { action: "ban"; socketPath: string; serverBinary?: string; agentSpiffeId: string };

const DEFAULT_SERVER_SOCKET = "/tmp/spire-server/private/api.sock";

function positiveSeconds(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (!Number.isInteger(seconds) || seconds <= 0)
    throw usageError(`--${flag} must be a positive number of seconds`);
  return seconds;
}

/** Parses `register|list|delete|ban ...` (the words after `warden spire`). Pure. */
export function parseSpireCommand(argv: readonly string[], env: NodeJS.ProcessEnv = {}): SpireCommand {
  const { values, positionals } = parseFlags(argv, {
    ...flags.stringFlags("agent", "mcp", "warden", "spiffe-id", "ttl", "jwt-ttl", "parent"),
    ...flags.stringFlags("trust-domain", "socket", "spire-server"),
    selector: { type: "string", multiple: true },
    dns: { type: "string", multiple: true },
    json: { type: "boolean" },
  });
  const [action, ...rest] = positionals;
  const trustDomain = parseTrustDomain(
    values["trust-domain"] ?? env.WARDEN_TRUST_DOMAIN ?? DEFAULT_TRUST_DOMAIN,
  );
  const socketPath = values.socket ?? env.WARDEN_SPIRE_SERVER_SOCKET ?? DEFAULT_SERVER_SOCKET;
  const serverBinary = values["spire-server"] ?? env.WARDEN_SPIRE_SERVER_BIN;
  const common = { socketPath, ...(serverBinary ? { serverBinary } : {}) };

  const named: [WorkloadKind, string | undefined][] = [
    ["agent", values.agent],
    ["mcp", values.mcp],
    ["warden", values.warden],
  ];
  const given = named.filter(([, name]) => name !== undefined);
  if (given.length + (values["spiffe-id"] === undefined ? 0 : 1) > 1) {
    throw usageError("give one of --agent, --mcp, --warden or --spiffe-id");
  }
  const first = given[0];
  const spiffeId = first
    ? workloadSpiffeId(trustDomain, first[0], first[1]!)
    : values["spiffe-id"] === undefined
      ? undefined
      : parseSpiffeId(values["spiffe-id"]).id;

  switch (action) {
    case "register": {
      if (!spiffeId) throw usageError("register needs --agent, --mcp, --warden or --spiffe-id");
      const selectors = (values.selector ?? []).map(validateSelector);
      if (selectors.length === 0) throw usageError("register needs at least one --selector type:value");
      const parent = values.parent ?? env.WARDEN_SPIRE_PARENT_ID ?? nodeAliasSpiffeId(trustDomain);
      const entry: EntrySpec = { spiffeId, parentId: parseSpiffeId(parent).id, selectors };
      const ttl = positiveSeconds("ttl", values.ttl);
      const jwtTtl = positiveSeconds("jwt-ttl", values["jwt-ttl"]);
      if (ttl !== undefined) entry.x509SvidTtlSeconds = ttl;
      if (jwtTtl !== undefined) entry.jwtSvidTtlSeconds = jwtTtl;
      if (values.dns) entry.dnsNames = values.dns;
      return { action, ...common, entry };
    }
    case "list":
      return { action, ...common, ...(spiffeId ? { spiffeId } : {}), json: values.json ?? false };
    case "delete": {
      const entryId = rest[0];
      if ((entryId === undefined) === (spiffeId === undefined)) {
        throw usageError("delete needs an entry ID or one of --agent, --mcp, --warden, --spiffe-id");
      }
      return { action, ...common, ...(entryId ? { entryId } : {}), ...(spiffeId ? { spiffeId } : {}) };
    }
    case "ban": {
      const agentSpiffeId = rest[0];
      if (!agentSpiffeId) throw usageError("ban needs the SPIRE agent's SPIFFE ID (spire-server agent list)");
      return { action, ...common, agentSpiffeId: parseSpiffeId(agentSpiffeId).id };
    }
    default:
      throw usageError(action ? `unknown command "${action}"` : "missing command");
  }
}

export function formatEntry(entry: RegistrationEntry): string {
  const ttl = entry.x509SvidTtlSeconds === 0 ? "default" : `${entry.x509SvidTtlSeconds}s`;
  return `${entry.id}  ${entry.spiffeId}  parent=${entry.parentId}  selectors=${entry.selectors.join(",")}  x509-ttl=${ttl}`;
}

async function runSpire(command: SpireCommand, io: CliIo): Promise<number> {
  const registrar = new SpireRegistrar({
    serverSocketPath: command.socketPath,
    ...(command.serverBinary ? { serverBinary: command.serverBinary } : {}),
  });
  switch (command.action) {
    case "register": {
      const entry = await registrar.create(command.entry);
      io.stdout(`registered ${formatEntry(entry)}`);
      break;
    }
    case "list": {
      const entries = await registrar.list(command.spiffeId ? { spiffeId: command.spiffeId } : {});
      if (command.json) io.stdout(JSON.stringify(entries, null, 2));
      else for (const entry of entries) io.stdout(formatEntry(entry));
      break;
    }
    case "delete": {
      const ids = command.entryId
        ? [command.entryId]
        : (await registrar.list({ spiffeId: command.spiffeId! })).map((e) => e.id);
      if (ids.length === 0) throw new CliError(`no entry for ${command.spiffeId}`);
      for (const id of ids) {
        await registrar.delete(id);
        io.stdout(`deleted ${id}`);
      }
      break;
    }
    case "ban":
      await registrar.banAgent(command.agentSpiffeId);
      io.stdout(`banned ${command.agentSpiffeId}`);
      break;
  }
  return 0;
}

const spireGroup = { name: "spire", usage: SPIRE_USAGE, parse: parseSpireCommand, run: runSpire };

/** Runs one `warden spire ...` command; returns the exit code (0 ok, 1 failed, 2 usage). */
export const runSpireCommand = (argv: readonly string[], io: CliIo) => runActionGroup(spireGroup, argv, io);
