import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { loadSaasCatalogue } from "../saas/catalogue.js";
import {
  ACCESS_LOG_FORMAT,
  azureOpenAiDestination,
  salesforceDestination,
  mcpDestination,
  providerDestinations,
  renderSidecarBootstrap,
  type Destination,
  type SidecarParams,
} from "./bootstrap.js";

/* The rendered config as the tests read it: loosely typed JSON, navigated with `at`. */
type Node = Record<string, unknown>;

function at(node: unknown, ...path: (string | number)[]): Node {
  let current: unknown = node;
  for (const key of path) {
    if (current === null || typeof current !== "object") throw new Error(`no ${path.join(".")}`);
    current = (current as Record<string | number, unknown>)[key];
  }
  if (current === undefined) throw new Error(`no ${path.join(".")}`);
  return current as Node;
}

const stubbed = (destination: Destination): Destination => ({
  ...destination,
  upstream: { address: "127.0.0.1", port: 18080, tls: false },
});

const base: SidecarParams = {
  agentListener: { port: 10000 },
  admin: { port: 10001 },
  authz: { address: "127.0.0.1", port: 10002 },
  extproc: { address: "127.0.0.1", port: 10003 },
  destinations: providerDestinations(),
};

function render(params: Partial<SidecarParams> = {}): Node {
  return parse(renderSidecarBootstrap({ ...base, ...params })) as Node;
}

function hcm(config: Node): Node {
  return at(config, "static_resources", "listeners", 0, "filter_chains", 0, "filters", 0, "typed_config");
}

function routes(config: Node): Node[] {
  return at(hcm(config), "route_config", "virtual_hosts", 0, "routes") as unknown as Node[];
}

function httpFilter(config: Node, name: string): Node {
  const filters = at(hcm(config), "http_filters") as unknown as Node[];
  const filter = filters.find((f) => f.name === name);
  if (!filter) throw new Error(`no filter ${name}`);
  return filter;
}

function cluster(config: Node, name: string): Node {
  const clusters = at(config, "static_resources", "clusters") as unknown as Node[];
  const found = clusters.find((c) => c.name === name);
  if (!found) throw new Error(`no cluster ${name}`);
  return found;
}

describe("sidecar bootstrap", () => {
  test("the admin interface and a plain-HTTP agent listener only ever bind to loopback", () => {
    const config = render();
    expect(at(config, "admin", "address", "socket_address")).toEqual({
      address: "127.0.0.1",
      port_value: 10001,
    });
    expect(at(config, "static_resources", "listeners", 0, "address", "socket_address")).toEqual({
      address: "127.0.0.1",
      port_value: 10000,
    });
    expect(() => render({ admin: { address: "0.0.0.0", port: 10001 } })).toThrow(/loopback only/);
    expect(() => render({ agentListener: { address: "0.0.0.0", port: 10000 } })).toThrow(
      /must be on loopback/,
    );
  });

  test("a non-loopback agent listener is possible only with mTLS from SPIRE", () => {
    const config = render({
      agentListener: { address: "0.0.0.0", port: 10000 },
      downstreamTls: {
        spireAgentSocket: "/run/spire/agent.sock",
        svidName: "spiffe://warden.local/warden/envoy",
        trustBundleName: "spiffe://warden.local",
      },
    });
    const tls = at(
      config,
      "static_resources",
      "listeners",
      0,
      "filter_chains",
      0,
      "transport_socket",
      "typed_config",
    );
    // Every certificate (or none) completes the handshake; authz-server verifies it and answers 401 JSON.
    expect(tls.require_client_certificate).toBe(false);
    expect(at(tls, "common_tls_context", "tls_certificate_sds_secret_configs", 0, "name")).toBe(
      "spiffe://warden.local/warden/envoy",
    );
    // ...which needs SPIRE to send the bundle as trusted_ca, not its SPIFFE validator (which demands a certificate).
    expect(at(config, "node", "metadata")).toEqual({ disable_spiffe_cert_validation: true });
    const validation = at(tls, "common_tls_context", "combined_validation_context");
    expect(at(validation, "default_validation_context")).toEqual({
      trust_chain_verification: "ACCEPT_UNTRUSTED",
    });
    expect(at(validation, "validation_context_sds_secret_config", "name")).toBe("spiffe://warden.local");
    expect(
      at(httpFilter(config, "envoy.filters.http.ext_authz"), "typed_config").include_peer_certificate,
    ).toBe(true);
    expect(
      at(cluster(config, "spire_agent"), "load_assignment", "endpoints", 0, "lb_endpoints", 0, "endpoint"),
    ).toEqual({
      address: { pipe: { path: "/run/spire/agent.sock" } },
    });
  });

  test("without downstreamTls there is no TLS on the agent listener and no SPIRE cluster", () => {
    const config = render();
    expect((config.node as Node).metadata).toBeUndefined();
    expect(
      at(config, "static_resources", "listeners", 0, "filter_chains", 0).transport_socket,
    ).toBeUndefined();
    expect(() => cluster(config, "spire_agent")).toThrow();
  });

  test("filters run ext_authz, then ext_proc, then the router", () => {
    const names = (at(hcm(render()), "http_filters") as unknown as Node[]).map((f) => f.name);
    expect(names).toEqual([
      "envoy.filters.http.ext_authz",
      "envoy.filters.http.ext_proc",
      "envoy.filters.http.router",
    ]);
  });

  test("ext_authz fails closed, gets the peer certificate and no body unless a route asks", () => {
    const config = at(httpFilter(render(), "envoy.filters.http.ext_authz"), "typed_config");
    expect(config).toMatchObject({
      failure_mode_allow: false,
      include_peer_certificate: true,
      transport_api_version: "V3",
      grpc_service: { envoy_grpc: { cluster_name: "warden_authz" }, timeout: "0.25s" },
    });
    expect(config.with_request_body).toBeUndefined();
  });

  test("ext_proc fails closed, sees headers both ways, no bodies, and receives the ext_authz metadata", () => {
    const filter = httpFilter(render(), "envoy.filters.http.ext_proc");
    expect(at(filter, "typed_config")).toMatchObject({
      failure_mode_allow: false,
      allow_mode_override: true,
      processing_mode: {
        request_header_mode: "SEND",
        response_header_mode: "SEND",
        request_body_mode: "NONE",
        response_body_mode: "NONE",
      },
      metadata_options: { forwarding_namespaces: { untyped: ["envoy.filters.http.ext_authz"] } },
      grpc_service: { envoy_grpc: { cluster_name: "warden_extproc" } },
    });
  });

  test("each destination route strips its prefix, names its destination to ext_authz and turns on ext_proc", () => {
    const config = render({
      destinations: [
        ...providerDestinations(),
        mcpDestination("files", { address: "10.0.0.5", port: 8080, tls: false }),
      ],
    });
    const byName = new Map(routes(config).map((r) => [r.name, r]));
    for (const [name, prefix, kind] of [
      ["openai", "/openai/", "llm"],
      ["anthropic", "/anthropic/", "llm"],
      ["google-ai", "/google-ai/", "llm"],
      ["google-drive", "/google-drive/", "saas"],
      ["github", "/github/", "saas"],
      ["mcp-files", "/mcp/files/", "mcp"],
    ] as const) {
      const route = byName.get(name)!;
      expect(route.match).toEqual({ prefix });
      expect(at(route, "route")).toMatchObject({ cluster: name, prefix_rewrite: "/" });
      expect(
        at(
          route,
          "typed_per_filter_config",
          "envoy.filters.http.ext_authz",
          "check_settings",
          "context_extensions",
        ),
      ).toEqual({ service: name === "mcp-files" ? "files" : name, kind, path_prefix: prefix });
      expect(at(route, "typed_per_filter_config", "envoy.filters.http.ext_proc")).toMatchObject({
        "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
      });
      expect(at(route, "typed_per_filter_config", "envoy.filters.http.ext_proc").disabled).toBeUndefined();
    }
    expect(httpFilter(config, "envoy.filters.http.ext_proc").disabled).toBe(true);
  });

  test("LLM and MCP routes send the body to ext_authz, SaaS routes do not", () => {
    const config = render({
      destinations: [
        ...providerDestinations(),
        mcpDestination("files", { address: "10.0.0.5", port: 8080, tls: false }),
      ],
    });
    const body = (name: string) =>
      at(
        routes(config).find((r) => r.name === name),
        "typed_per_filter_config",
        "envoy.filters.http.ext_authz",
        "check_settings",
      ).with_request_body;
    expect(body("openai")).toEqual({
      max_request_bytes: 1048576,
      allow_partial_message: false,
      pack_as_bytes: true,
    });
    expect(body("mcp-files")).toBeDefined();
    expect(body("github")).toBeUndefined();
    expect(body("google-drive")).toBeUndefined();
  });

  test("every SaaS service the catalogue puts on one fixed host gets a TLS route to that host", () => {
    const catalogue = loadSaasCatalogue();
    const saas = providerDestinations().filter((d) => d.kind === "saas");
    const fixed = catalogue.services.filter((s) => s.hosts.length === 1 && !s.hosts[0]!.includes("*"));
    expect(saas.map((d) => [d.service, d.upstream.address, d.pathPrefix])).toEqual(
      fixed.map((s) => [s.name, s.hosts[0], s.route_prefix]),
    );
    expect(saas.map((d) => d.service)).toEqual(["google-drive", "github", "microsoft-365"]);
    expect(salesforceDestination("acme.my.salesforce.com")).toEqual({
      name: "salesforce",
      service: "salesforce",
      kind: "saas",
      pathPrefix: "/salesforce/",
      upstream: { address: "acme.my.salesforce.com", port: 443, tls: true },
    });
  });

  test("an unknown path is answered 404 by Envoy itself, last, with neither ext_authz nor ext_proc", () => {
    const last = routes(render()).at(-1)!;
    expect(last).toMatchObject({ name: "unknown", match: { prefix: "/" }, direct_response: { status: 404 } });
    expect(at(last, "typed_per_filter_config", "envoy.filters.http.ext_authz").disabled).toBe(true);
    expect(at(last, "typed_per_filter_config", "envoy.filters.http.ext_proc").disabled).toBe(true);
  });

  test("production upstreams use TLS with SNI and a checked server name; test upstreams may be plain", () => {
    const config = render({
      destinations: [
        ...providerDestinations(),
        azureOpenAiDestination("acme.openai.azure.com"),
        salesforceDestination("acme.my.salesforce.com"),
      ],
    });
    const salesforce = routes(config).find((r) => r.name === "salesforce")!;
    expect(at(salesforce, "route", "host_rewrite_literal")).toBe("acme.my.salesforce.com");
    expect(
      at(
        routes(config).find((r) => r.name === "microsoft-365")!,
        "route",
        "host_rewrite_literal",
      ),
    ).toBe("graph.microsoft.com");
    const azure = cluster(config, "azure-openai");
    expect(azure.type).toBe("LOGICAL_DNS");
    expect(at(azure, "transport_socket", "typed_config")).toMatchObject({
      sni: "acme.openai.azure.com",
      common_tls_context: {
        validation_context: {
          trusted_ca: { filename: "/etc/ssl/certs/ca-certificates.crt" },
          match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: "acme.openai.azure.com" } }],
        },
      },
    });
    const azureRoute = routes(config).find((r) => r.name === "azure-openai")!;
    expect(at(azureRoute, "route", "host_rewrite_literal")).toBe("acme.openai.azure.com");

    const plain = render({ destinations: providerDestinations().map(stubbed) });
    const openai = cluster(plain, "openai");
    expect(openai.type).toBe("STATIC");
    expect(openai.transport_socket).toBeUndefined();
    expect(at(routes(plain)[0], "route", "host_rewrite_literal")).toBe("127.0.0.1:18080");
  });

  test("our two gRPC servers are reached over HTTP/2", () => {
    const config = render();
    for (const name of ["warden_authz", "warden_extproc"]) {
      expect(
        at(
          cluster(config, name),
          "typed_extension_protocol_options",
          "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        ),
      ).toMatchObject({ explicit_http_config: { http2_protocol_options: {} } });
    }
  });

  test("the access log never names a credential-carrying header or a query string", () => {
    const format = JSON.stringify(ACCESS_LOG_FORMAT).toUpperCase();
    for (const header of [
      "AUTHORIZATION",
      "COOKIE",
      "X-API-KEY",
      "API-KEY",
      "X-GOOG-API-KEY",
      "PROXY-AUTHORIZATION",
    ]) {
      expect(format).not.toContain(`(${header})`);
    }
    expect(format).not.toMatch(/%REQ\(:PATH\)%/);
    expect(format).toContain("DYNAMIC_METADATA(ENVOY.FILTERS.HTTP.EXT_AUTHZ:DECISION_ID)");
    const toFile = at(
      hcm(render({ accessLogPath: "/var/log/warden/access.log" })),
      "access_log",
      0,
      "typed_config",
    );
    expect(toFile.path).toBe("/var/log/warden/access.log");
    expect(at(hcm(render()), "access_log", 0).name).toBe("envoy.access_loggers.stdout");
  });

  test("Envoy's own errors become JSON, but our servers' JSON replies pass through untouched", () => {
    const mappers = at(hcm(render()), "local_reply_config", "mappers") as unknown as Node[];
    expect(mappers.length).toBeGreaterThan(0);
    expect(at(hcm(render()), "local_reply_config").body_format).toBeUndefined();
    for (const mapper of mappers) {
      const expression = String(at(mapper, "filter", "extension_filter", "typed_config", "expression"));
      expect(expression).toContain("response.code_details != 'ext_authz_denied'");
      expect(expression).toContain("application/json");
      const decisionId = "%DYNAMIC_METADATA(envoy.filters.http.ext_authz:decision_id)%";
      expect(at(mapper, "headers_to_add", 0, "header")).toEqual({
        key: "x-warden-decision-id",
        value: decisionId,
      });
      const body = at(mapper, "body_format_override", "json_format");
      if (!expression.includes("xds.route_name")) {
        expect(body.error).toEqual({
          code: expect.any(String),
          message: expect.any(String),
          decision_id: decisionId,
        });
      } else if (expression.includes("'anthropic'")) {
        expect(body).toMatchObject({
          type: "error",
          error: { type: expect.any(String), decision_id: decisionId },
        });
      } else if (expression.includes("'google-ai'")) {
        expect(body.error).toMatchObject({ code: expect.any(Number), status: expect.any(String) });
      } else {
        expect(expression).toContain("'openai'");
        expect(body.error).toMatchObject({
          type: expect.any(String),
          code: expect.any(String),
          decision_id: decisionId,
        });
      }
    }
  });

  test("parameters are checked: duplicates, reserved names, bad prefixes", () => {
    const openai = providerDestinations()[0]!;
    expect(() => render({ destinations: [openai, { ...openai, name: "other" }] })).toThrow(
      /duplicate prefix/,
    );
    expect(() => render({ destinations: [openai, { ...openai, pathPrefix: "/x/" }] })).toThrow(
      /duplicate name/,
    );
    expect(() => render({ destinations: [{ ...openai, name: "warden_authz" }] })).toThrow(/reserved/);
    expect(() => render({ destinations: [{ ...openai, pathPrefix: "/openai" }] })).toThrow(/ends with \//);
    expect(() => render({ destinations: [] })).toThrow();
  });

  test("envoy/sidecar.example.yaml is what envoy/params.example.json renders to", () => {
    const root = fileURLToPath(new URL("../../..", import.meta.url));
    const params = JSON.parse(
      readFileSync(join(root, "envoy", "params.example.json"), "utf8"),
    ) as SidecarParams;
    const example = readFileSync(join(root, "envoy", "sidecar.example.yaml"), "utf8");
    expect(example).toContain(
      renderSidecarBootstrap({ ...params, destinations: params.destinations ?? providerDestinations() }),
    );
  });

  describe("MCP routes", () => {
    const spire = {
      spireAgentSocket: "/run/spire/agent.sock",
      svidName: "spiffe://warden.local/warden/envoy",
      trustBundleName: "spiffe://warden.local",
    };
    const viaWarden = mcpDestination("files", {
      address: "files.internal",
      port: 8443,
      tls: true,
      spiffeId: "spiffe://warden.local/mcp/files",
    });
    const direct = mcpDestination("wiki", { address: "wiki.internal", port: 443, tls: true });
    const route = (config: Node, name: string): Node => {
      const found = routes(config).find((r) => r.name === name);
      if (!found) throw new Error(`no route ${name}`);
      return found;
    };

    test("towards a Warden inbound sidecar: our SVID, the upstream pinned to the MCP server's SPIFFE ID", () => {
      const config = render({ destinations: [viaWarden, direct], downstreamTls: spire });
      const tls = at(cluster(config, "mcp-files"), "transport_socket", "typed_config");
      expect(tls.sni).toBe("files.internal");
      expect(at(tls, "common_tls_context", "tls_certificate_sds_secret_configs", 0, "name")).toBe(
        "spiffe://warden.local/warden/envoy",
      );
      expect(
        at(tls, "common_tls_context", "combined_validation_context", "default_validation_context"),
      ).toEqual({
        match_typed_subject_alt_names: [
          { san_type: "URI", matcher: { exact: "spiffe://warden.local/mcp/files" } },
        ],
      });
      // A plain MCP server is checked by its DNS name against the CA bundle, as any TLS upstream.
      const plain = at(cluster(config, "mcp-wiki"), "transport_socket", "typed_config", "common_tls_context");
      expect(at(plain, "validation_context", "match_typed_subject_alt_names", 0)).toEqual({
        san_type: "DNS",
        matcher: { exact: "wiki.internal" },
      });
    });

    test("the agent is vouched for in XFCC towards Warden sidecars only, and the policy is told", () => {
      const config = render({ destinations: [viaWarden, direct], downstreamTls: spire });
      expect(hcm(config).forward_client_cert_details).toBe("SANITIZE");
      const files = route(config, "mcp-files");
      expect(files.request_headers_to_add).toEqual([
        {
          header: {
            key: "x-forwarded-client-cert",
            value: "Hash=%DOWNSTREAM_PEER_FINGERPRINT_256%;URI=%DOWNSTREAM_PEER_URI_SAN%",
          },
          append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
        },
      ]);
      const extensions = (r: Node) =>
        at(
          r,
          "typed_per_filter_config",
          "envoy.filters.http.ext_authz",
          "check_settings",
          "context_extensions",
        );
      expect(extensions(files)).toEqual({
        service: "files",
        kind: "mcp",
        path_prefix: "/mcp/files/",
        mcp_upstream: "warden",
      });
      const wiki = route(config, "mcp-wiki");
      expect(wiki.request_headers_to_add).toBeUndefined();
      expect(extensions(wiki).mcp_upstream).toBeUndefined();
    });

    test("SSE streams: no overall timeout on MCP routes, an hour of silence allowed", () => {
      const config = render({ destinations: [viaWarden, providerDestinations()[0]!], downstreamTls: spire });
      expect(at(route(config, "mcp-files"), "route")).toMatchObject({ timeout: "0s", idle_timeout: "3600s" });
      expect(at(route(config, "openai"), "route")).toMatchObject({ timeout: "600s", idle_timeout: "300s" });
    });

    test("the client's Authorization is removed after ext_authz and before ext_proc", () => {
      const config = render({ destinations: [direct], downstreamTls: spire });
      const names = (at(hcm(config), "http_filters") as unknown as Node[]).map((f) => f.name);
      expect(names).toEqual([
        "envoy.filters.http.ext_authz",
        "envoy.filters.http.header_mutation",
        "envoy.filters.http.ext_proc",
        "envoy.filters.http.router",
      ]);
      expect(
        at(
          route(config, "mcp-wiki"),
          "typed_per_filter_config",
          "envoy.filters.http.header_mutation",
          "mutations",
        ),
      ).toEqual({ request_mutations: [{ remove: "authorization" }] });
      // No MCP route, no extra filter.
      const llmOnly = (at(hcm(render()), "http_filters") as unknown as Node[]).map((f) => f.name);
      expect(llmOnly).not.toContain("envoy.filters.http.header_mutation");
    });

    test("a Warden sidecar upstream without TLS or without an SDS source is refused", () => {
      expect(() => render({ destinations: [viaWarden] })).toThrow(/needs tls and downstreamTls/);
      expect(() =>
        render({
          destinations: [{ ...viaWarden, upstream: { ...viaWarden.upstream, tls: false } }],
          downstreamTls: spire,
        }),
      ).toThrow(/needs tls and downstreamTls/);
    });
  });

  describe("an MCP server's inbound sidecar", () => {
    const inboundParams: Partial<SidecarParams> = {
      agentListener: { address: "0.0.0.0", port: 8443 },
      destinations: [mcpDestination("files", { address: "127.0.0.1", port: 9000, tls: false })],
      downstreamTls: {
        spireAgentSocket: "/run/spire/agent.sock",
        svidName: "spiffe://warden.local/mcp/files",
        trustBundleName: "spiffe://warden.local",
      },
      inbound: {
        server: "files",
        resourceUri: "https://files.example/mcp",
        authorizationServers: ["https://warden.example"],
      },
    };

    test("serves RFC 9728 metadata at the well-known path and its path-suffixed form, without a policy", () => {
      const config = render(inboundParams);
      const [plain, suffixed, mcp] = routes(config);
      expect(at(plain!, "match")).toEqual({ path: "/.well-known/oauth-protected-resource" });
      expect(at(suffixed!, "match")).toEqual({ path: "/.well-known/oauth-protected-resource/mcp" });
      for (const metadata of [plain!, suffixed!]) {
        expect(at(metadata, "direct_response", "status")).toBe(200);
        expect(JSON.parse(at(metadata, "direct_response", "body").inline_string as string)).toEqual({
          resource: "https://files.example/mcp",
          authorization_servers: ["https://warden.example"],
          bearer_methods_supported: ["header"],
          resource_name: "files",
        });
        expect(at(metadata, "typed_per_filter_config", "envoy.filters.http.ext_authz").disabled).toBe(true);
      }
      // Everything else goes to the MCP server, path unchanged, through the policy.
      expect(at(mcp!, "match")).toEqual({ prefix: "/" });
      expect(at(mcp!, "route").prefix_rewrite).toBeUndefined();
      expect(
        at(
          mcp!,
          "typed_per_filter_config",
          "envoy.filters.http.ext_authz",
          "check_settings",
          "context_extensions",
        ),
      ).toEqual({ service: "files", kind: "mcp", path_prefix: "/" });
      expect(routes(config)).toHaveLength(3);
    });

    test("keeps XFCC only for authz-server to read, and removes it and Authorization before the server", () => {
      const config = render(inboundParams);
      expect(hcm(config).forward_client_cert_details).toBe("FORWARD_ONLY");
      const mcp = routes(config)[2]!;
      const mutations = at(mcp, "typed_per_filter_config", "envoy.filters.http.header_mutation", "mutations");
      expect(mutations.request_mutations).toEqual([
        { remove: "authorization" },
        { remove: "x-forwarded-client-cert" },
      ]);
      // authz-server's challenge becomes WWW-Authenticate after extproc-server (which drops that name).
      expect(mutations.response_mutations).toEqual([
        {
          append: {
            header: { key: "www-authenticate", value: "%RESP(x-warden-challenge)%" },
            append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
            keep_empty_value: false,
          },
        },
        { remove: "x-warden-challenge" },
      ]);
      // The listener presents the MCP server's SVID.
      const tls = at(config, "static_resources", "listeners", 0, "filter_chains", 0, "transport_socket");
      expect(
        at(tls, "typed_config", "common_tls_context", "tls_certificate_sds_secret_configs", 0, "name"),
      ).toBe("spiffe://warden.local/mcp/files");
    });

    test("needs its SVID and exactly one MCP destination", () => {
      expect(() => render({ ...inboundParams, downstreamTls: null, agentListener: { port: 8443 } })).toThrow(
        /presents the MCP server's SVID/,
      );
      expect(() => render({ ...inboundParams, destinations: providerDestinations() })).toThrow(
        /exactly one destination/,
      );
      expect(() =>
        render({ ...inboundParams, inbound: { ...inboundParams.inbound!, resourceUri: "https://x/?q=1" } }),
      ).toThrow(/without query/);
    });
  });
});
