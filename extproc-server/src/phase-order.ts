/**
 * The order of one ext_proc stream's messages, enforced: request headers once, then request body
 * chunks and trailers, then response headers once, then response body chunks and trailers. A stream
 * may begin at the response headers: that is a local reply Envoy generated before our request phase
 * ran (an ext_authz denial, a 413), which gets the response-header strip and nothing else. Anything
 * else (a second request_headers naming another tenant, a body before its headers, a request phase
 * after the response began) is not Envoy talking: the stream ends with an error and is counted.
 * The phases are listed in protocol order; a phase's rank is its index.
 */
export const PHASES = [
  "requestHeaders",
  "requestBody",
  "requestTrailers",
  "responseHeaders",
  "responseBody",
  "responseTrailers",
] as const;

export type Phase = (typeof PHASES)[number];

const NOTHING = -1;
const RANK = Object.fromEntries(PHASES.map((phase, rank) => [phase, rank])) as Readonly<
  Record<Phase, number>
>;
const KNOWN: ReadonlySet<string> = new Set(PHASES);

/** Whether a ProcessingRequest's oneof field name is one of the phases. */
export function isPhase(value: string | undefined): value is Phase {
  return value !== undefined && KNOWN.has(value);
}

/** Which phases may come right after each one (NOTHING: the stream's first message). */
function mayFollow(phase: Phase, last: number): boolean {
  switch (phase) {
    case "requestHeaders":
      return last === NOTHING;
    case "requestBody":
      return last === RANK.requestHeaders || last === RANK.requestBody;
    case "requestTrailers":
      return last === RANK.requestHeaders || last === RANK.requestBody;
    case "responseHeaders":
      return last < RANK.responseHeaders;
    case "responseBody":
    case "responseTrailers":
      return last === RANK.responseHeaders || last === RANK.responseBody;
  }
}

export class PhaseOrder {
  private last = NOTHING;

  /** Null when `phase` may come now (and it is recorded), else the violation in words. */
  admit(phase: Phase): string | null {
    if (!mayFollow(phase, this.last))
      return `${phase} after ${this.last === NOTHING ? "nothing" : PHASES[this.last]}`;
    this.last = RANK[phase];
    return null;
  }
}
