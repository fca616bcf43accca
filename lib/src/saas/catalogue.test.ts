import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { providerDestinations } from "../envoy/bootstrap.js";
import {
  hostMatches,
  loadSaasCatalogue,
  operationOf,
  parseSaasCatalogue,
  providerScopesFor,
  SaasCatalogueError,
  scopesAllowing,
} from "./catalogue.js";

const catalogue = loadSaasCatalogue();
const policyData = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../../policies/data.json", import.meta.url)), "utf8"),
) as {
  warden: {
    config: {
      services: Record<
        string,
        {
          kind: string;
          hosts: string[];
          path_prefixes?: string[];
          scopes?: { read?: string[]; write?: string[] };
        }
      >;
    };
  };
};
const policyServices = policyData.warden.config.services;
const policySaas = Object.entries(policyServices).filter(([, s]) => s.kind === "saas");

test("the shipped catalogue has Google Drive, GitHub, Salesforce and Microsoft 365", () => {
  expect(catalogue.services.map((s) => s.name).sort()).toEqual(
    ["github", "google-drive", "microsoft-365", "salesforce"].sort(),
  );
});

test("the catalogue and the policy data name the same SaaS services", () => {
  expect(catalogue.services.map((s) => s.name).sort()).toEqual(policySaas.map(([name]) => name).sort());
});

test.each(policySaas)("%s: the scopes allowing read and write agree with the policy data", (name, policy) => {
  const service = catalogue.service(name)!;
  expect(scopesAllowing(service, "read").sort()).toEqual([...(policy.scopes?.read ?? [])].sort());
  expect(scopesAllowing(service, "write").sort()).toEqual([...(policy.scopes?.write ?? [])].sort());
  expect(service.hosts).toEqual(policy.hosts);
  expect(service.path_prefixes).toEqual(policy.path_prefixes ?? []);
});

test("every sidecar SaaS route the bootstrap ships has a catalogue entry with the same prefix", () => {
  for (const destination of providerDestinations().filter((d) => d.kind === "saas")) {
    expect(catalogue.service(destination.service)?.route_prefix).toBe(destination.pathPrefix);
  }
});

test("GET reads, POST writes; provider scopes are deduplicated", () => {
  const drive = catalogue.service("google-drive")!;
  expect(operationOf(drive, "get")).toBe("read");
  expect(operationOf(drive, "POST")).toBe("write");
  const m365 = catalogue.service("microsoft-365")!;
  const scopes = providerScopesFor(m365, ["microsoft-365:read", "microsoft-365:write"]);
  expect(scopes.filter((s) => s === "offline_access")).toHaveLength(1);
});

test("host patterns match sub-domains only", () => {
  expect(hostMatches("*.my.salesforce.com", "acme.my.salesforce.com")).toBe(true);
  expect(hostMatches("*.my.salesforce.com", "my.salesforce.com")).toBe(false);
  expect(hostMatches("*.my.salesforce.com", "evil-my.salesforce.com")).toBe(false);
  expect(hostMatches("www.googleapis.com", "www.googleapis.com:443")).toBe(true);
});

test("a wrong entry is refused at start-up, naming every problem", () => {
  const bad = {
    box: {
      display_name: "Box",
      authorize_url: "http://evil.example.com/auth",
      token_url: "https://api.box.com/oauth2/token",
      revoke_url: null,
      hosts: ["api.box.com"],
      route_prefix: "/box/",
      scopes: { "dropbox:read": { grants: ["read"], provider_scopes: ["root_readonly"] } },
    },
  };
  expect(() => parseSaasCatalogue(bad)).toThrow(SaasCatalogueError);
  try {
    parseSaasCatalogue(bad);
  } catch (error) {
    expect((error as SaasCatalogueError).problems.join("\n")).toMatch(/authorize_url/);
  }
  const { box } = bad;
  const wrongScope = { box: { ...box, authorize_url: "https://account.box.com/api/oauth2/authorize" } };
  expect(() => parseSaasCatalogue(wrongScope)).toThrow(/must start with "box:"/);
});

test("a new service is added by configuration alone", () => {
  const extended = parseSaasCatalogue({
    box: {
      display_name: "Box",
      authorize_url: "https://account.box.com/api/oauth2/authorize",
      token_url: "https://api.box.com/oauth2/token",
      revoke_url: "https://api.box.com/oauth2/revoke",
      hosts: ["api.box.com"],
      route_prefix: "/box/",
      scopes: { "box:read": { grants: ["read"], provider_scopes: ["root_readonly"] } },
    },
  });
  expect(scopesAllowing(extended.service("box")!, "read")).toEqual(["box:read"]);
  expect(extended.serviceOfScope("box:read")?.name).toBe("box");
});
