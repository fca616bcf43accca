const STOP_SIGNALS = ["SIGTERM", "SIGINT"] as const;

/**
 * The one way our long-running programs stop: the first SIGTERM or SIGINT runs `stop` (drain, close
 * stores, release the SVID stream), then the process exits 0. A signal that comes while stopping is
 * ignored, so a drain is never cut short or run twice.
 */
export function stopOnSignals(stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      void stop(signal).then(() => process.exit(0));
    });
  }
}
