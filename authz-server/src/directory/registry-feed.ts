import { performance } from "node:perf_hooks";
import type { Database } from "../../../lib/src/db/types.js";
import type { Logger } from "../../../lib/src/logger.js";
import type { AgentIndex, DirectoryEntry } from "./agent-index.js";
import type { AttestationVerifier } from "./attestation-verifier.js";
import {
  attestationClaimsFor,
  changedAgentId,
  directoryEntryFor,
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
         a.capabilities, a.status, k.id AS kya_id, k.status AS kya_status, k.jws AS kya_jws
    FROM agents a
    LEFT JOIN LATERAL (
      SELECT id, status, jws FROM kya_attestations
       WHERE agent_id = a.id
       ORDER BY status = 'approved' DESC, submitted_at DESC, id DESC
       LIMIT 1
    ) k ON true`;

const RETRY_MS = 1_000;
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

export class RegistryFeed {
  private readonly dirty = new Set<string>();
  private fullSyncWanted = true;
  private draining: Promise<void> | undefined;
  /** Set while backing off after a database failure: nothing is read until it fires. */
  private retryTimer: NodeJS.Timeout | undefined;
  private keysRetryTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private stopped = false;
  /** Verified JWS payloads by token, so a resync does not re-verify unchanged attestations. */
  private verifiedPayloads = new Map<string, unknown>();
  private keysUnavailable = false;
  private readonly state = {
    loaded: false,
    lastFullSyncAt: null as Date | null,
    lastFullSyncMs: null as number | null,
    lastUpdateAt: null as Date | null,
    fullSyncs: 0,
    updatesApplied: 0,
    unverified: 0,
    lastError: null as string | null,
  };

  constructor(private readonly options: RegistryFeedOptions) {}

  /** Subscribes and loads everything once; on failure keeps retrying in the background. */
  async start(): Promise<void> {
    this.resyncTimer = setInterval(() => this.requestFullSync(), this.options.resyncMs);
    this.resyncTimer.unref();
    await this.subscribe();
    await this.draining;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.keysRetryTimer);
    await this.draining?.catch(() => undefined);
    await this.unlisten?.().catch(() => undefined);
  }

  status(): RegistryFeedStatus {
    const s = this.state;
    return {
      source: "database",
      agents: this.options.index.size,
      loaded: s.loaded,
      listening: this.unlisten !== undefined,
      last_full_sync_at: s.lastFullSyncAt?.toISOString() ?? null,
      last_full_sync_ms: s.lastFullSyncMs,
      last_update_at: s.lastUpdateAt?.toISOString() ?? null,
      full_syncs: s.fullSyncs,
      updates_applied: s.updatesApplied,
      unverified_attestations: s.unverified,
      last_error: s.lastError,
    };
  }

  get loaded(): boolean {
    return this.state.loaded;
  }

  requestFullSync(): void {
    this.fullSyncWanted = true;
    this.kick();
  }

  // LISTEN before the first load, so no change between the load and the subscription is missed.
  private async subscribe(): Promise<void> {
    if (this.stopped) return;
    try {
      this.unlisten = await this.options.db.listen(
        REGISTRY_CHANNEL,
        (payload) => this.onNotification(payload),
        { onReconnect: () => this.requestFullSync() },
      );
      this.requestFullSync();
    } catch (error) {
      this.failed("registry LISTEN failed", error);
      this.retryTimer = setTimeout(() => void this.subscribe(), RETRY_MS);
    }
  }

  private onNotification(payload: string): void {
    const agentId = changedAgentId(payload);
    if (agentId === undefined) {
      this.options.logger.warn({ payload: payload.slice(0, 200) }, "registry notification not understood");
      this.requestFullSync();
      return;
    }
    this.dirty.add(agentId);
    this.kick();
  }

  private kick(): void {
    if (this.draining || this.retryTimer || this.stopped || !this.unlisten) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.fullSyncWanted || this.dirty.size > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (!this.stopped && (this.fullSyncWanted || this.dirty.size > 0)) {
      try {
        if (this.fullSyncWanted) {
          this.fullSyncWanted = false;
          this.dirty.clear();
          await this.fullSync();
        } else {
          const ids = [...this.dirty];
          this.dirty.clear();
          await this.refresh(ids);
        }
      } catch (error) {
        this.failed("registry read failed; retrying with a full resync", error);
        this.fullSyncWanted = true;
        this.retryAfter(RETRY_MS);
        return;
      }
    }
  }

  private retryAfter(ms: number): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.requestFullSync();
    }, ms);
  }

  private retryKeysLater(): void {
    if (this.keysRetryTimer || this.stopped) return;
    this.keysRetryTimer = setTimeout(() => {
      this.keysRetryTimer = undefined;
      this.requestFullSync();
    }, KEYS_RETRY_MS);
  }

  private async fullSync(): Promise<void> {
    const started = performance.now();
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
    const s = this.state;
    s.unverified = unverified;
    s.lastFullSyncMs = Math.round((performance.now() - started) * 10) / 10;
    s.lastFullSyncAt = new Date();
    s.fullSyncs += 1;
    s.lastError = null;
    this.options.logger[s.loaded ? "debug" : "info"](
      { agents: entries.length, unverified_attestations: unverified, duration_ms: s.lastFullSyncMs },
      "registry loaded",
    );
    s.loaded = true;
    if (this.keysUnavailable) this.retryKeysLater();
  }

  private async refresh(agentIds: string[]): Promise<void> {
    this.keysUnavailable = false;
    const { rows } = await this.options.db.query(`${REGISTRY_SELECT} WHERE a.id = ANY($1::uuid[])`, [
      agentIds,
    ]);
    for (const raw of rows) {
      const entry = await this.entryFor(raw, this.verifiedPayloads);
      if (!entry) continue;
      this.options.index.upsert(entry.entry);
      this.state.updatesApplied += 1;
    }
    this.state.lastUpdateAt = new Date();
    if (this.keysUnavailable) this.retryKeysLater();
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
      return { entry: directoryEntryFor(row, null), unverified: false };
    const claims = await this.verifiedClaims(row, row.kya_jws, verified);
    return { entry: directoryEntryFor(row, claims), unverified: claims === null };
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

  private failed(message: string, error: unknown): void {
    this.state.lastError = error instanceof Error ? error.message : String(error);
    this.options.logger.warn({ err: error }, message);
  }
}
