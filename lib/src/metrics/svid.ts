import { Gauge } from "prom-client";
import { metricsRegistry } from "./registry.js";

/**
 * When this process's own X.509-SVID expires. SPIRE rotates it at half its life, so an SVID within
 * minutes of expiry means rotation has stopped (agent down, entry removed) and mTLS is about to fail.
 */
let latest: (() => { spiffeId: string; expiresAt: Date }) | null = null;

export function watchSvid(svid: () => { spiffeId: string; expiresAt: Date }): void {
  latest = svid;
}

new Gauge({
  name: "warden_svid_expiry_timestamp_seconds",
  help: "When this component's own X.509-SVID expires (Unix time), by SPIFFE ID.",
  labelNames: ["spiffe_id"],
  registers: [metricsRegistry],
  collect() {
    this.reset();
    if (!latest) return;
    const { spiffeId, expiresAt } = latest();
    this.set({ spiffe_id: spiffeId }, expiresAt.getTime() / 1000);
  },
});
