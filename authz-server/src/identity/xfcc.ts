/**
 * x-forwarded-client-cert (Envoy's format): elements separated by `,`, each `key=value` pairs
 * separated by `;`, a value optionally in double quotes (then `,`, `;` and `=` are literal and `\"`
 * is a quote). Pure parsing; deciding whom to believe is inbound-identity.ts's job.
 */
export type XfccElement = Readonly<Record<string, string>>;

/** Every element, in order; null when the header is not well formed (then nothing in it counts). */
export function parseXfcc(header: string): XfccElement[] | null {
  const elements: XfccElement[] = [];
  let pairs = new Map<string, string>();
  let key = "";
  let value = "";
  let inKey = true;
  let quoted = false;
  let wasQuoted = false;
  const endPair = (): boolean => {
    const name = key.trim().toLowerCase();
    if (name === "" || inKey) return false;
    // A key given twice (other than Envoy's repeated URI/DNS SANs) would let a parser pick either.
    if (pairs.has(name)) return false;
    pairs.set(name, wasQuoted ? value : value.trim());
    key = "";
    value = "";
    inKey = true;
    wasQuoted = false;
    return true;
  };
  for (let i = 0; i < header.length; i++) {
    const c = header[i]!;
    if (quoted) {
      if (c === "\\" && header[i + 1] === '"') {
        value += '"';
        i++;
      } else if (c === '"') quoted = false;
      else value += c;
      continue;
    }
    if (inKey) {
      if (c === "=") inKey = false;
      else if (c === "," || c === ";" || c === '"') return null;
      else key += c;
      continue;
    }
    if (c === '"' && value.trim() === "" && !wasQuoted) {
      quoted = true;
      wasQuoted = true;
      value = "";
    } else if (c === ";") {
      if (!endPair()) return null;
    } else if (c === ",") {
      if (!endPair()) return null;
      elements.push(Object.fromEntries(pairs));
      pairs = new Map();
    } else if (c === '"') return null;
    else if (wasQuoted && c.trim() !== "") return null;
    else value += c;
  }
  if (quoted || !endPair()) return null;
  elements.push(Object.fromEntries(pairs));
  return elements;
}
