import { headerOption } from "../../lib/src/envoy/headers.js";
import type { envoy } from "../../lib/src/gen/envoy.js";

type HeaderMutation = envoy.service.ext_proc.v3.IHeaderMutation;

// Envoy rejects the whole mutation (and the request) for a value with these; fail here, with a reason.
const INVALID_HEADER_VALUE = /[\r\n\0]/;

/**
 * The header changes of one phase, collected from the core and from providers, sent to Envoy as one
 * HeaderMutation. A name is either set or removed, never both: the last call wins, so a provider that
 * sets `authorization` after the core removed the agent's one replaces it (sets overwrite every value).
 */
export class HeaderEdits {
  private readonly setNames: string[] = [];
  private readonly setValues: string[] = [];
  private readonly removals: string[] = [];

  set(name: string, value: string): this {
    if (INVALID_HEADER_VALUE.test(value)) throw new Error(`header ${name} has a value Envoy would refuse`);
    const key = name.toLowerCase();
    const removed = this.removals.indexOf(key);
    if (removed >= 0) this.removals.splice(removed, 1);
    const index = this.setNames.indexOf(key);
    if (index >= 0) {
      this.setValues[index] = value;
    } else {
      this.setNames.push(key);
      this.setValues.push(value);
    }
    return this;
  }

  remove(name: string): this {
    const key = name.toLowerCase();
    const index = this.setNames.indexOf(key);
    if (index >= 0) {
      this.setNames.splice(index, 1);
      this.setValues.splice(index, 1);
    }
    if (!this.removals.includes(key)) this.removals.push(key);
    return this;
  }

  /** The value this phase will set, if any. */
  valueOf(name: string): string | undefined {
    const index = this.setNames.indexOf(name.toLowerCase());
    return index >= 0 ? this.setValues[index] : undefined;
  }

  removes(name: string): boolean {
    return this.removals.includes(name.toLowerCase());
  }

  get removed(): readonly string[] {
    return this.removals;
  }

  get isEmpty(): boolean {
    return this.setNames.length === 0 && this.removals.length === 0;
  }

  /** Values go in `raw_value` only: see lib/src/envoy/headers.ts. Undefined when there is nothing to change. */
  toMutation(): HeaderMutation | undefined {
    if (this.isEmpty) return undefined;
    const setHeaders = new Array<envoy.config.core.v3.IHeaderValueOption>(this.setNames.length);
    for (let i = 0; i < this.setNames.length; i++)
      setHeaders[i] = headerOption(this.setNames[i]!, this.setValues[i]!);
    return { setHeaders, removeHeaders: this.removals.slice() };
  }
}

type HeaderList = readonly envoy.config.core.v3.IHeaderValue[] | null | undefined;

/**
 * One header's value from an Envoy header list, without building a map of all of them (the hot path
 * reads one or two). Values arrive in `raw_value`; older Envoys use `value`. Repeated headers join
 * with a comma.
 */
export function headerValue(headers: HeaderList, name: string): string | undefined {
  if (!headers) return undefined;
  let found: string | undefined;
  for (const header of headers) {
    if (header.key !== name && header.key?.toLowerCase() !== name) continue;
    const value = decodeValue(header);
    found = found === undefined ? value : `${found},${value}`;
  }
  return found;
}

function decodeValue(header: envoy.config.core.v3.IHeaderValue): string {
  const raw = header.rawValue;
  if (raw && raw.length > 0) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("utf8");
  return header.value ?? "";
}

/** Read-only access to one phase's headers, for providers. */
export class HeaderView {
  constructor(readonly list: readonly envoy.config.core.v3.IHeaderValue[]) {}

  get(name: string): string | undefined {
    return headerValue(this.list, name.toLowerCase());
  }

  has(name: string): boolean {
    const key = name.toLowerCase();
    return this.list.some((header) => header.key?.toLowerCase() === key);
  }
}
