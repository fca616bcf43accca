import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ERROR_STATUS } from "../../lib/src/errors.js";
import { REPO_ROOT as ROOT } from "../harness/process.js";
import { FAMILY_NAMES, reasonsTable } from "../../sdk/typescript/src/reasons.js";

/**
 * sdk/reasons.json is the one reason → error family table of both SDKs. Every reason an agent can
 * receive must be in it, so a new reason cannot reach agents as an untyped error: the policy's
 * reasons (policies/warden/authz/reasons.rego), the error codes of lib/src/errors.ts, and the reason
 * codes written in the servers' sources (authz-server, extproc-server, lib/src/mcp).
 */
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(join(ROOT, path)).isDirectory()) return entry === "testing" ? [] : sources(path);
    return entry.endsWith(".ts") && !entry.endsWith(".test.ts") ? [path] : [];
  });
}

function regoReasons(): string[] {
  return [...read("policies/warden/authz/reasons.rego").matchAll(/^\s*"([a-z0-9_]+)": \{"status"/gm)].map(
    (m) => m[1]!,
  );
}

/** String literals of a union type declared as `type <name> = | "a" | "b";`. */
function unionMembers(path: string, typeName: string): string[] {
  const match = new RegExp(`type ${typeName} =([^;]+);`).exec(read(path));
  if (!match) throw new Error(`${typeName} not found in ${path}`);
  return [...match[1]!.matchAll(/"([a-z0-9_]+)"/g)].map((m) => m[1]!);
}

const LITERAL_PATTERNS = [
  /\breason:\s*"([a-z][a-z0-9_]+)"/g,
  /\bcode:\s*"([a-z][a-z0-9_]+)"/g,
  /engineDenial\(\s*\d+,\s*"([a-z][a-z0-9_]+)"/g,
  /new (?:Refusal|WardenError)\(\s*"([a-z][a-z0-9_]+)"/g,
];
/** Literals that match the patterns but are not refusals an agent receives. */
const NOT_REFUSALS = new Set(["allowed"]);

function serverReasons(): Map<string, string> {
  const found = new Map<string, string>();
  for (const dir of ["authz-server/src", "extproc-server/src", "lib/src/mcp"]) {
    for (const path of sources(dir)) {
      const text = read(path);
      for (const pattern of LITERAL_PATTERNS) {
        for (const m of text.matchAll(pattern)) if (!NOT_REFUSALS.has(m[1]!)) found.set(m[1]!, path);
      }
    }
  }
  for (const reason of unionMembers("authz-server/src/identity/peer-certificate.ts", "IdentityDenialReason"))
    found.set(reason, "authz-server/src/identity/peer-certificate.ts");
  for (const reason of unionMembers("lib/src/mcp/request.ts", "McpRequestProblem"))
    found.set(reason, "lib/src/mcp/request.ts");
  return found;
}

const table = reasonsTable();

test("every reason of reasons.rego is in sdk/reasons.json with the rego's status", () => {
  const rego = read("policies/warden/authz/reasons.rego");
  const reasons = regoReasons();
  expect(reasons.length).toBeGreaterThan(40);
  const wrong = reasons.filter((reason) => {
    const status = Number(new RegExp(`"${reason}": \\{"status": (\\d+)`).exec(rego)![1]);
    return table.reasons[reason]?.status !== status;
  });
  expect(wrong).toEqual([]);
});

test("every error code of lib/src/errors.ts is in sdk/reasons.json with its status", () => {
  const wrong = Object.entries(ERROR_STATUS).filter(
    ([code, status]) => table.reasons[code]?.status !== status,
  );
  expect(wrong).toEqual([]);
});

test("every reason code written in the servers' sources is in sdk/reasons.json", () => {
  const found = serverReasons();
  // The scan finds the reasons it is meant to: a broken pattern must not pass silently.
  expect([...found.keys()]).toEqual(
    expect.arrayContaining([
      "certificate_expired",
      "mcp_header_mismatch",
      "approval_unavailable",
      "body_too_deep",
    ]),
  );
  const missing = [...found]
    .filter(([reason]) => !table.reasons[reason])
    .map(([r, path]) => `${r} (${path})`);
  expect(missing).toEqual([]);
});

test("every OAuth error code of the token service is in sdk/reasons.json with its status", () => {
  const codes = unionMembers("control-plane/src/oauth/errors.ts", "OAuthErrorCode");
  const statuses = read("control-plane/src/oauth/errors.ts");
  expect(codes.length).toBeGreaterThanOrEqual(10);
  const wrong = codes.filter((code) => {
    const status = Number(new RegExp(`\\b${code}: (\\d{3})`).exec(statuses)?.[1]);
    return table.reasons[code]?.status !== status;
  });
  expect(wrong).toEqual([]);
});

test("the table names only the SDKs' families, and each family is described", () => {
  expect(Object.keys(table.families).sort()).toEqual([...FAMILY_NAMES].sort());
  const families = new Set<string>(FAMILY_NAMES);
  const unknown = Object.entries(table.reasons).filter(([, entry]) => !families.has(entry.family));
  expect(unknown).toEqual([]);
});
