import { ConfigError } from "../../../lib/src/config.js";
import { loadControlPlaneConfig } from "../config.js";

const base = { WARDEN_OIDC_ISSUER: "https://idp.example.com" };

function problemsOf(env: NodeJS.ProcessEnv): string {
  try {
    loadControlPlaneConfig({ ...base, ...env });
    return "";
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.message;
  }
}

test("allowed webhook networks are CIDRs; anything else stops the start naming the value", () => {
  const config = loadControlPlaneConfig({ ...base, WARDEN_WEBHOOK_ALLOW_CIDRS: "127.0.0.1/32, fd00::/8" });
  expect(config.WARDEN_WEBHOOK_ALLOW_CIDRS).toEqual(["127.0.0.1/32", "fd00::/8"]);
  expect(loadControlPlaneConfig(base).WARDEN_WEBHOOK_ALLOW_CIDRS).toEqual([]);
  for (const bad of ["10.0.0.0", "10.0.0.0/33", "localhost/8", "::1/129"])
    expect(problemsOf({ WARDEN_WEBHOOK_ALLOW_CIDRS: bad })).toMatch(
      /WARDEN_WEBHOOK_ALLOW_CIDRS.*is not a CIDR/s,
    );
});

test("the syslog push needs its target and its tenants together, and the jitter is full or equal", () => {
  expect(problemsOf({ WARDEN_SYSLOG_TARGET: "siem.example.com:6514" })).toMatch(/WARDEN_SYSLOG_TENANTS/);
  expect(problemsOf({ WARDEN_SYSLOG_TENANTS: "acme" })).toMatch(/WARDEN_SYSLOG_TARGET: required/);
  expect(problemsOf({ WARDEN_SYSLOG_TARGET: "no port" })).toMatch(/WARDEN_SYSLOG_TARGET/);
  expect(problemsOf({ WARDEN_WEBHOOK_JITTER: "some" })).toMatch(/WARDEN_WEBHOOK_JITTER/);
  expect(problemsOf({ WARDEN_WEBHOOK_RETRY_BASE_MS: "5000", WARDEN_WEBHOOK_RETRY_CAP_MS: "100" })).toMatch(
    /RETRY_CAP_MS: must be at least/,
  );
  expect(problemsOf({ WARDEN_SYSLOG_TARGET: "siem.example.com:6514", WARDEN_SYSLOG_TENANTS: "acme" })).toBe(
    "",
  );
});
