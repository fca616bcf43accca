import type { Database } from "../../../lib/src/db/types.js";
import type { Logger } from "../../../lib/src/logger.js";
import { FULL_SYNC, NotifyFeed, type NotificationOutcome } from "../feed/notify-feed.js";
import type { AgentIndex, DirectoryEntry } from "./agent-index.js";
import type { AttestationVerifier } from "./attestation-verifier.js";
import {
  attestationClaimsFor,
  changedAgentId,
  directoryEntryFor,
  isTenantChange,
  parseRegistryRow,
  type AttestationClaims,
  type RegistryRow,
} from "./registry-rows.js";

/**
 * Keeps the in-memory agent index in step with the control plane's database: a full load at start,
 * then `LISTEN warden_registry` (each notification re-reads that agent with its current
 * attestation), and a full resync periodically and after the listening connection reconnects.
 * Requests only ever read the index. All reads run one at a time, in order, so an older read can
 * never overwrite a newer one; notifications that arrive during a read are coalesced into the next.
 */
export const REGISTRY_CHANNEL = "warden_registry";

// The agent's current attestation: its approved one, else its most recent (pending, revoked, ...).
const REGISTRY_SELECT = `
  SELECT a.id, a.kind, a.name, a.spiffe_id, a.tenant, a.owner, a.team, a.type, a.environment,
         a.capabilities, a.status, k.id AS kya_id, k.status AS kya_status, k.jws AS kya_jws,
         a.tool_rules, a.resource_uri, a.external_services, t.status AS tenant_status
    FROM agents a
    LEFT JOIN tenants t ON t.id = a.tenant
    LEFT JOIN LATERAL (
      SELECT id, status, jws FROM kya_attestations
       WHERE agent_id = a.id
       ORDER BY status = 'approved' DESC, submitted_at DESC, id DESC
       LIMIT 1
    ) k ON true`;

/** After the keys could not be fetched, try again sooner than the periodic resync. */
const KEYS_RETRY_MS = 5_000;

export interface RegistryFeedOptions {
  db: Database;
  index: AgentIndex;
  verifier: AttestationVerifier;
  logger: Logger;
  resyncMs: number;
  /** When set, an attestation's `iss` must equal it. */
  attestationIssuer?: string | undefined;
}

export interface RegistryFeedStatus {
  source: "database";
  agents: number;
  loaded: boolean;
  listening: boolean;
  last_full_sync_at: string | null;
  last_full_sync_ms: number | null;
  last_update_at: string | null;
  full_syncs: number;
  updates_applied: number;
  unverified_attestations: number;
  last_error: string | null;
}

export class RegistryFeed extends NotifyFeed<string> {
  private keysRetryTimer: NodeJS.Timeout | undefined;
  /** Verified JWS payloads by token, so a resync does not re-verify unchanged attestations. */
  private verifiedPayloads = new Map<string, unknown>();
  private keysUnavailable = false;
  private lastLoad = { agents: 0, unverified: 0 };
  /** Refused tool-rule documents already logged (`id` + problem): logged once, not every resync. */
  private loggedRuleProblems = new Set<string>();
  private updatesApplied = 0;

  constructor(private readonly options: RegistryFeedOptions) {
    super({ ...options, channel: REGISTRY_CHANNEL, subject: "registry" });
  }

  override async stop(): Promise<void> {
    clearTimeout(this.keysRetryTimer);
    await super.stop();
  }

  status(): RegistryFeedStatus {
    const c = this.counters();
    return {
      source: "database",
      agents: this.options.index.size,
      loaded: c.loaded,
      listening: c.listening,
      last_full_sync_at: c.lastFullSyncAt?.toISOString() ?? null,
      last_full_sync_ms: c.lastFullSyncMs,
      last_update_at: c.lastIncrementalAt?.toISOString() ?? null,
      full_syncs: c.fullSyncs,
      updates_applied: this.updatesApplied,
      unverified_attestations: this.lastLoad.unverified,
      last_error: c.lastError,
    };
  }

  protected onNotification(payload: string): NotificationOutcome<string> {
    if (isTenantChange(payload)) return FULL_SYNC;
    const agentId = changedAgentId(payload);
    if (agentId === undefined) {
      this.options.logger.warn({ payload: payload.slice(0, 200) }, "registry notification not understood");
      return FULL_SYNC;
    }
    return [agentId];
  }

  private retryKeysLater(): void {
    if (this.keysRetryTimer || this.stopped) return;
    this.keysRetryTimer = setTimeout(() => {
      this.keysRetryTimer = undefined;
      this.requestFullSync();
    }, KEYS_RETRY_MS);
  }

  protected async fullSync(): Promise<void> {
    this.keysUnavailable = false;
    const { rows } = await this.options.db.query(REGISTRY_SELECT);
    const verified = new Map<string, unknown>();
    const entries: DirectoryEntry[] = [];
    let unverified = 0;
    for (const raw of rows) {
      const entry = await this.entryFor(raw, verified);
      if (!entry) continue;
      if (entry.unverified) unverified += 1;
      entries.push(entry.entry);
    }
    this.options.index.replaceAll(entries);
    this.verifiedPayloads = verified;
    this.lastLoad = { agents: entries.length, unverified };
    if (this.keysUnavailable) this.retryKeysLater();
  }

  protected async applyIncremental(agentIds: string[]): Promise<void> {
    this.keysUnavailable = false;
    const { rows } = await this.options.db.query(`${REGISTRY_SELECT} WHERE a.id = ANY($1::uuid[])`, [
      agentIds,
    ]);
    for (const raw of rows) {
      const entry = await this.entryFor(raw, this.verifiedPayloads);
      if (!entry) continue;
      this.options.index.upsert(entry.entry);
      this.updatesApplied += 1;
    }
    if (this.keysUnavailable) this.retryKeysLater();
  }

  protected override onFullSync({ first, durationMs }: { first: boolean; durationMs: number }): void {
    this.options.logger[first ? "info" : "debug"](
      {
        agents: this.lastLoad.agents,
        unverified_attestations: this.lastLoad.unverified,
        duration_ms: durationMs,
      },
      "registry loaded",
    );
  }

  private async entryFor(
    raw: unknown,
    verified: Map<string, unknown>,
  ): Promise<{ entry: DirectoryEntry; unverified: boolean } | undefined> {
    let row: RegistryRow;
    try {
      row = parseRegistryRow(raw);
    } catch (error) {
      this.options.logger.error({ err: error }, "registry row skipped");
      return undefined;
    }
    if (row.kya_status !== "approved" || row.kya_jws === null)
      return { entry: this.logged(directoryEntryFor(row, null)), unverified: false };
    const claims = await this.verifiedClaims(row, row.kya_jws, verified);
    return { entry: this.logged(directoryEntryFor(row, claims)), unverified: claims === null };
  }

  private logged(entry: DirectoryEntry): DirectoryEntry {
    const problem = entry.mcp?.toolRulesProblem;
    const key = `${entry.agent.id}:${problem}`;
    if (problem && !this.loggedRuleProblems.has(key)) {
      this.loggedRuleProblems.add(key);
      this.options.logger.error(
        { mcp_server: entry.agent.name, agent_id: entry.agent.id, problem },
        "stored MCP tool rules are invalid; every tool, prompt and resource of this server is refused",
      );
    }
    return entry;
  }

  /** The attestation's claims if its signature verifies and they name this agent; else null (logged). */
  private async verifiedClaims(
    row: RegistryRow,
    jws: string,
    verified: Map<string, unknown>,
  ): Promise<AttestationClaims | null> {
    let payload = this.verifiedPayloads.get(jws) ?? verified.get(jws);
    if (payload === undefined) {
      const outcome = await this.options.verifier.verify(jws);
      if (!outcome.ok) {
        if (outcome.unavailable) this.keysUnavailable = true;
        this.rejectAttestation(row, outcome.reason);
        return null;
      }
      payload = outcome.payload;
    }
    verified.set(jws, payload);
    const fit = attestationClaimsFor(payload, row, this.options.attestationIssuer);
    if ("problem" in fit) {
      this.rejectAttestation(row, fit.problem);
      return null;
    }
    return fit.claims;
  }

  private rejectAttestation(row: RegistryRow, reason: string): void {
    this.options.logger.warn(
      { agent_spiffe_id: row.spiffe_id, attestation_id: row.kya_id, reason },
      "attestation not verified; the agent is treated as having no KYA attestation",
    );
  }
}
