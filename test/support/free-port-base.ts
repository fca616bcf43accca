import { DEFAULT_PORTS } from "../../lib/src/runtime/layout.js";
import { portAcceptsConnections } from "../harness/process.js";

/** A WARDEN_PORT_BASE with every port of a `warden up` stack (base … base + n - 1) free. */
export async function freePortBase(): Promise<number> {
  const count = Object.keys(DEFAULT_PORTS).length;
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const busy = await Promise.all(Array.from({ length: count }, (_, i) => portAcceptsConnections(base + i)));
    if (!busy.some(Boolean)) return base;
  }
}
