import type { DelegationVerifier } from "../authorizer.js";

/**
 * Times delegation verification without touching the authorizer: the verifier is wrapped, and since
 * authorize() runs synchronously, the time it spent verifying during one Check is what accumulated
 * between the gRPC edge's `take()` calls.
 */
export class DelegationStopwatch {
  private spentNs = 0;

  wrap(verifier: DelegationVerifier): DelegationVerifier {
    return {
      verify: (token, caller, nowNs, peerCertificate) => {
        const started = process.hrtime.bigint();
        try {
          return verifier.verify(token, caller, nowNs, peerCertificate);
        } finally {
          this.spentNs += Number(process.hrtime.bigint() - started);
        }
      },
    };
  }

  /** The nanoseconds spent since the last take, and starts again from zero. */
  take(): number {
    const spent = this.spentNs;
    this.spentNs = 0;
    return spent;
  }
}
