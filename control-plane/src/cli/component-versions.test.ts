import { existsSync } from "node:fs";
import { join } from "node:path";
import { KEYCLOAK_HOME } from "../../../lib/src/runtime/components/keycloak.js";
import { componentVersions, versionIn } from "./component-versions.js";

describe("versionIn", () => {
  test.each([
    ["postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", "15.18"],
    ["OpenBao v2.7.2 (9e0a0d3c3504a0a00b45e61355afac5e35c78379), committed 2026-10-26T20:32:27Z", "2.7.2"],
    ["1.13.3-dev-unk", "1.13.3"],
    ["Keycloak - Version 26.7.3", "26.7.3"],
    [
      "\n/x/envoy  version: 9e5580933739775e8bce696a57a2e1bc99368f23/1.40.0/Clean/RELEASE/BoringSSL",
      "1.40.0",
    ],
  ])("reads the version from %j", (output, version) => {
    expect(versionIn(output)).toBe(version);
  });

  test("no version: undefined", () => {
    expect(versionIn("command not found")).toBeUndefined();
  });
});

describe("componentVersions", () => {
  test("Keycloak is named by its distribution's version, not as one of our Node programs", async () => {
    const { keycloak, "control-plane": ours } = await componentVersions(["keycloak", "control-plane"]);
    expect(ours).toMatch(/\(node /);
    if (existsSync(join(KEYCLOAK_HOME, "version.txt"))) expect(keycloak).toMatch(/^\d+\.\d+\.\d+$/);
    else expect(keycloak).toBe("-");
  });
});
