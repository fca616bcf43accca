import { grantBody, parseTtl, scopesFrom } from "./delegation-commands.js";
import { NO_CONTROL_PLANE, recordingCliIo } from "../../../test/support/cli-io.js";
import { runWarden } from "./warden.js";

const AGENT = "3f0c4a2e-9d1b-4c6a-8f2e-1a2b3c4d5e6f";

const cli = () => recordingCliIo(NO_CONTROL_PLANE);

test("a lifetime is whole seconds, or a number with s, m, h or d", () => {
  expect(parseTtl("3600")).toBe(3600);
  expect(parseTtl("90s")).toBe(90);
  expect(parseTtl("30m")).toBe(1800);
  expect(parseTtl("24h")).toBe(86_400);
  expect(parseTtl("7d")).toBe(604_800);
  for (const bad of ["0", "1.5h", "-3", "1w", "", "h"]) expect(() => parseTtl(bad)).toThrow(/--ttl/);
});

test("scopes are checked and de-duplicated, from repeated or comma-separated flags", () => {
  expect(scopesFrom({ scope: ["google-drive:read", "github:read,google-drive:read"] })).toEqual([
    "google-drive:read",
    "github:read",
  ]);
  expect(() => scopesFrom({})).toThrow(/at least one --scope/);
  expect(() => scopesFrom({ scope: ["Drive Read"] })).toThrow(/not a scope/);
});

test("the grant body carries only what was given, the agent id must be a UUID", () => {
  expect(grantBody({ agent: AGENT, scope: ["google-drive:read"] })).toEqual({
    agent_id: AGENT,
    scopes: ["google-drive:read"],
  });
  expect(
    grantBody({ agent: AGENT, scope: ["google-drive:read"], ttl: "1h", destination: ["google-drive"] }),
  ).toEqual({
    agent_id: AGENT,
    scopes: ["google-drive:read"],
    ttl_seconds: 3600,
    destinations: ["google-drive"],
  });
  expect(() => grantBody({ scope: ["google-drive:read"] })).toThrow(/--agent is required/);
  expect(() => grantBody({ agent: "demo-agent", scope: ["google-drive:read"] })).toThrow(/UUID/);
});

test("bad input is one line and the usage, exit 2, before any request", async () => {
  const { io, err } = cli();
  expect(
    await runWarden(["delegations", "grant", "--agent", AGENT, "--ttl", "forever", "--scope", "x:y"], io),
  ).toBe(2);
  expect(err.join("\n")).toMatch(
    /^warden delegations grant: --ttl must be .*\nusage: warden delegations grant --agent/,
  );
  expect(await runWarden(["delegations", "revoke", "not-an-id"], io)).toBe(2);
  expect(await runWarden(["delegations", "list", "--status", "gone"], io)).toBe(2);
  expect(err.join("\n")).not.toMatch(/\n\s+at /);
});

test("--help prints the command's usage and exits 0", async () => {
  const { io, out } = cli();
  expect(await runWarden(["delegations", "revoke", "--help"], io)).toBe(0);
  expect(out).toEqual(["usage: warden delegations revoke <delegation-id> [--reason text] [--json]"]);
  expect(await runWarden(["delegations", "--help"], io)).toBe(0);
  expect(out[1]!.split("\n").map((line) => line.split(" ")[3])).toEqual(["grant", "list", "revoke"]);
});

test("an unreachable control plane is one line, exit 1", async () => {
  const { io, err } = cli();
  expect(await runWarden(["delegations", "list"], io)).toBe(1);
  expect(err).toHaveLength(1);
  expect(err[0]).toMatch(/^warden delegations list: cannot reach the control plane/);
});
