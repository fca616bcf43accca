import {
  agentBanArgs,
  entryCreateArgs,
  entryDeleteArgs,
  entryShowArgs,
  parseEntryCreateOutput,
  parseEntryDeleteOutput,
  parseEntryShowOutput,
} from "./registration.js";
import { nodeAliasSpiffeId, workloadSpiffeId } from "./naming.js";

const SOCKET = "/run/spire/server.sock";

// Output of spire-server v1.13.3 `-output json` (protojson, proto field names, unpopulated fields emitted).
const ENTRY_JSON = {
  id: "5c6f1f4e-1c2b-4f53-9d8e-0a1b2c3d4e5f",
  spiffe_id: { trust_domain: "warden.local", path: "/agent/research-bot" },
  parent_id: { trust_domain: "warden.local", path: "/node/local" },
  selectors: [
    { type: "unix", value: "uid:1000" },
    { type: "unix", value: "gid:1000" },
  ],
  x509_svid_ttl: 3600,
  federates_with: [],
  admin: false,
  downstream: false,
  expires_at: "0",
  dns_names: [],
  revision_number: "0",
  store_svid: false,
  jwt_svid_ttl: 0,
  hint: "",
  created_at: "1763824000",
};

describe("Warden identity names", () => {
  it("follow spiffe://<td>/agent|mcp|warden/<name>", () => {
    expect(workloadSpiffeId("warden.local", "agent", "research-bot")).toBe(
      "spiffe://warden.local/agent/research-bot",
    );
    expect(workloadSpiffeId("acme.prod", "mcp", "github")).toBe("spiffe://acme.prod/mcp/github");
    expect(workloadSpiffeId("warden.local", "warden", "extproc")).toBe(
      "spiffe://warden.local/warden/extproc",
    );
    expect(nodeAliasSpiffeId("warden.local")).toBe("spiffe://warden.local/node/local");
  });

  it("refuse unknown Warden components and names that are not one path segment", () => {
    expect(() => workloadSpiffeId("warden.local", "warden", "database")).toThrow("unknown Warden component");
    expect(() => workloadSpiffeId("warden.local", "agent", "team/bot")).toThrow("path segment characters");
  });
});

describe("spire-server entry arguments", () => {
  it("create an entry with selectors, TTLs and DNS names on the given socket", () => {
    expect(
      entryCreateArgs(SOCKET, {
        spiffeId: "spiffe://warden.local/agent/research-bot",
        parentId: "spiffe://warden.local/node/local",
        selectors: ["unix:uid:1000", "unix:gid:1000"],
        x509SvidTtlSeconds: 20,
        jwtSvidTtlSeconds: 60,
        dnsNames: ["bot.local"],
      }),
    ).toEqual([
      "entry",
      "create",
      "-socketPath",
      SOCKET,
      "-output",
      "json",
      "-spiffeID",
      "spiffe://warden.local/agent/research-bot",
      "-parentID",
      "spiffe://warden.local/node/local",
      "-selector",
      "unix:uid:1000",
      "-selector",
      "unix:gid:1000",
      "-x509SVIDTTL",
      "20",
      "-jwtSVIDTTL",
      "60",
      "-dns",
      "bot.local",
    ]);
  });

  it("refuse entries without selectors, malformed selectors, bad TTLs or invalid IDs", () => {
    const base = { spiffeId: "spiffe://warden.local/agent/x", parentId: "spiffe://warden.local/node/local" };
    expect(() => entryCreateArgs(SOCKET, { ...base, selectors: [] })).toThrow("at least one selector");
    expect(() => entryCreateArgs(SOCKET, { ...base, selectors: ["uid1000"] })).toThrow("not type:value");
    expect(() =>
      entryCreateArgs(SOCKET, { ...base, selectors: ["unix:uid:0"], x509SvidTtlSeconds: 0 }),
    ).toThrow("positive number of seconds");
    expect(() =>
      entryCreateArgs(SOCKET, { ...base, spiffeId: "spiffe://warden.local/x/", selectors: ["unix:uid:0"] }),
    ).toThrow("trailing slash");
  });

  it("show, delete and ban with filters and IDs validated", () => {
    expect(entryShowArgs(SOCKET, { spiffeId: "spiffe://warden.local/mcp/github" })).toEqual([
      "entry",
      "show",
      "-socketPath",
      SOCKET,
      "-output",
      "json",
      "-spiffeID",
      "spiffe://warden.local/mcp/github",
    ]);
    expect(entryDeleteArgs(SOCKET, ENTRY_JSON.id)).toEqual([
      "entry",
      "delete",
      "-socketPath",
      SOCKET,
      "-output",
      "json",
      "-entryID",
      ENTRY_JSON.id,
    ]);
    expect(() => entryDeleteArgs(SOCKET, "x -socketPath /tmp/evil")).toThrow("not an entry ID");
    expect(agentBanArgs(SOCKET, "spiffe://warden.local/spire/agent/join_token/abc")).toEqual([
      "agent",
      "ban",
      "-socketPath",
      SOCKET,
      "-output",
      "json",
      "-spiffeID",
      "spiffe://warden.local/spire/agent/join_token/abc",
    ]);
  });
});

describe("spire-server JSON output", () => {
  it("reads created and listed entries", () => {
    const created = parseEntryCreateOutput(
      JSON.stringify({ results: [{ status: { code: 0, message: "OK" }, entry: ENTRY_JSON }] }),
    );
    expect(created).toEqual({
      id: ENTRY_JSON.id,
      spiffeId: "spiffe://warden.local/agent/research-bot",
      parentId: "spiffe://warden.local/node/local",
      selectors: ["unix:uid:1000", "unix:gid:1000"],
      x509SvidTtlSeconds: 3600,
      jwtSvidTtlSeconds: 0,
      dnsNames: [],
      hint: "",
    });
    const listed = parseEntryShowOutput(
      JSON.stringify({ entries: [ENTRY_JSON, ENTRY_JSON], next_page_token: "" }),
    );
    expect(listed).toHaveLength(2);
  });

  it("turns a failed batch result into an error with the matching code", () => {
    const duplicate = JSON.stringify({
      results: [{ status: { code: 6, message: "similar entry already exists" }, entry: ENTRY_JSON }],
    });
    expect(() => parseEntryCreateOutput(duplicate)).toThrow(
      expect.objectContaining({ code: "conflict", message: "entry create: similar entry already exists" }),
    );
    const missing = JSON.stringify({
      results: [{ status: { code: 5, message: "entry not found" }, id: "nope" }],
    });
    expect(() => parseEntryDeleteOutput(missing)).toThrow(expect.objectContaining({ code: "not_found" }));
  });
});
