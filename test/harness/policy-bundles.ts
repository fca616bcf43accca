import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./process.js";

/** Helpers for the policy tests: real bundles built by scripts/build-policy.mjs with the pinned opa. */
export const POLICY_DIR = join(REPO_ROOT, "policies");
export const CASES_FILE = join(POLICY_DIR, "tests", "cases.json");

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `warden-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface BuildOptions {
  dir?: string;
  out: string;
  revision?: string;
  entrypoint?: string;
  signingKey?: string;
  signingAlg?: string;
}

export function buildBundle(options: BuildOptions): Buffer {
  const args = [
    join(REPO_ROOT, "scripts", "build-policy.mjs"),
    "--quiet",
    "--dir",
    options.dir ?? POLICY_DIR,
    "--out",
    options.out,
  ];
  if (options.revision) args.push("--revision", options.revision);
  if (options.entrypoint) args.push("--entrypoint", options.entrypoint);
  if (options.signingKey)
    args.push("--signing-key", options.signingKey, "--signing-alg", options.signingAlg ?? "ES256");
  execFileSync(process.execPath, args, {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, WARDEN_POLICY_SIGNING_KEY_FILE: "" },
  });
  return readFileSync(options.out);
}

/** A policy directory holding the given Rego (under warden/authz/) and the shipped data.json. */
export function writePolicyDir(parent: string, name: string, rego: string): string {
  const dir = join(parent, name);
  mkdirSync(join(dir, "warden", "authz"), { recursive: true });
  writeFileSync(join(dir, "warden", "authz", "policy.rego"), rego);
  cpSync(join(POLICY_DIR, "data.json"), join(dir, "data.json"));
  return dir;
}

export interface SigningKeys {
  privateKeyFile: string;
  publicKeyPem: string;
}

/** Test-only signing keys, generated per run; the private key never leaves the temp dir. */
export function signingKeys(dir: string, kind: "ec" | "rsa" = "ec"): SigningKeys {
  const { privateKey, publicKey } =
    kind === "ec"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privateKeyFile = join(dir, `signing-${kind}-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(privateKeyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  return { privateKeyFile, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

// The decision table, shared with policies/tests/decision_test.rego.
export interface PolicyCase {
  name: string;
  input?: unknown;
  patch?: Record<string, unknown>;
  remove?: string[];
  config?: unknown;
  config_patch?: Record<string, unknown>;
  expect: { allow: boolean; status: number; reason: string; metadata?: Record<string, unknown> };
}

export interface CaseTable {
  base: Record<string, unknown>;
  cases: PolicyCase[];
}

export function readCaseTable(): CaseTable {
  return JSON.parse(readFileSync(CASES_FILE, "utf8")) as CaseTable;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Rego's object.union: objects merge recursively, anything else is replaced by the patch. */
export function objectUnion(
  base: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key];
    out[key] = isObject(current) && isObject(value) ? objectUnion(current, value) : value;
  }
  return out;
}

/** Rego's json.remove with "a/b" paths. */
export function jsonRemove(value: Record<string, unknown>, paths: string[]): Record<string, unknown> {
  const without = (object: Record<string, unknown>, keys: string[]): Record<string, unknown> => {
    const [first, ...rest] = keys;
    return Object.fromEntries(
      Object.entries(object).flatMap(([key, member]): [string, unknown][] => {
        if (key !== first) return [[key, member]];
        if (rest.length === 0) return [];
        return [[key, isObject(member) ? without(member, rest) : member]];
      }),
    );
  };
  return paths.reduce((current, path) => without(current, path.split("/")), value);
}

export function caseInput(table: CaseTable, c: PolicyCase): unknown {
  if ("input" in c) return c.input;
  return jsonRemove(objectUnion(table.base, c.patch ?? {}), c.remove ?? []);
}
