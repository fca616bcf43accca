import type { AgentDirectory, AgentRecord, KyaFacts } from "../identity/source.js";

/**
 * The in-memory index the data plane decides from: SPIFFE ID → registration and KYA facts.
 * Lookups are a single Map read; writers (the registry feed, a static file) replace whole entries,
 * so a request sees an entry either before or after an update, never half of it.
 */
export interface DirectoryEntry {
  agent: AgentRecord;
  kya: KyaFacts;
}

export class AgentIndex implements AgentDirectory {
  private entries = new Map<string, DirectoryEntry>();

  lookup(spiffeId: string): DirectoryEntry | undefined {
    return this.entries.get(spiffeId);
  }

  upsert(entry: DirectoryEntry): void {
    this.entries.set(entry.agent.spiffe_id, entry);
  }

  remove(spiffeId: string): void {
    this.entries.delete(spiffeId);
  }

  /** Atomically replaces the whole index (initial load, periodic resync). */
  replaceAll(entries: Iterable<DirectoryEntry>): void {
    const next = new Map<string, DirectoryEntry>();
    for (const entry of entries) next.set(entry.agent.spiffe_id, entry);
    this.entries = next;
  }

  get size(): number {
    return this.entries.size;
  }
}
