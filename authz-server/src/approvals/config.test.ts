import { ConfigError } from "../../../lib/src/config.js";
import { loadAuthzConfig } from "../config.js";
import { approvalBaseUrl } from "./config.js";

const BASE = { WARDEN_POLICY_BUNDLE: "policies/bundle.tar.gz", WARDEN_POLICY_REQUIRE_SIGNATURE: "false" };

function problems(env: Record<string, string>): string[] {
  try {
    loadAuthzConfig({ ...BASE, ...env });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

test("defaults: a pending request lives 15 minutes, the store gets 150 ms", () => {
  const config = loadAuthzConfig(BASE);
  expect([config.WARDEN_APPROVAL_PENDING_TTL_S, config.WARDEN_APPROVAL_TIMEOUT_MS]).toEqual([900, 150]);
});

test("wrong settings stop the start with the variable, the reason and the value", () => {
  expect(problems({ WARDEN_APPROVAL_PENDING_TTL_S: "5" })).toEqual([
    'WARDEN_APPROVAL_PENDING_TTL_S: must be at least 10 seconds (a person must have time to decide) (got "5")',
  ]);
  expect(problems({ WARDEN_APPROVAL_PENDING_TTL_S: "15m" })).toEqual([
    'WARDEN_APPROVAL_PENDING_TTL_S: Expected number, received nan (got "15m")',
  ]);
  expect(problems({ WARDEN_APPROVAL_TIMEOUT_MS: "500" })).toEqual([
    `WARDEN_APPROVAL_TIMEOUT_MS: must stay below Envoy's ext_authz timeout (250 ms) (got "500")`,
  ]);
  expect(problems({ WARDEN_CP_PUBLIC_URL: "ftp://cp" })).toEqual([
    'WARDEN_CP_PUBLIC_URL: must be an http(s) URL (got "ftp://cp")',
  ]);
});

test("approval links point at the public URL, else at the control plane serving the JWKS", () => {
  expect(
    approvalBaseUrl(loadAuthzConfig({ ...BASE, WARDEN_CP_PUBLIC_URL: "https://warden.example.com/cp" })),
  ).toBe("https://warden.example.com/cp");
  expect(
    approvalBaseUrl(
      loadAuthzConfig({ ...BASE, WARDEN_JWKS_URL: "http://127.0.0.1:8081/.well-known/jwks.json" }),
    ),
  ).toBe("http://127.0.0.1:8081");
  expect(approvalBaseUrl(loadAuthzConfig(BASE))).toBeUndefined();
});
