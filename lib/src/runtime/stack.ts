import { chmodSync, mkdirSync } from "node:fs";
import { workloadSpiffeId } from "../spiffe/naming.js";
import { envoyComponent, inboundEnvoyComponent, zeroCodeEnvoyComponent } from "./components/envoy.js";
import {
  authzComponent,
  controlPlaneComponent,
  DATA_PLANE_LOGINS,
  dataPlaneUrl,
  devOidcComponent,
  extprocComponent,
  policyBundleFiles,
} from "./components/node-programs.js";
import { keycloakComponent, keycloakFiles, PORTAL_CLIENT_ID } from "./components/keycloak.js";
import { openBaoComponent, openBaoFiles } from "./components/openbao.js";
import { postgresComponent, postgresUrl } from "./components/postgres.js";
import { rateLimitConfigPaths, rateLimitServiceComponent, redisComponent } from "./components/rate-limit.js";
import {
  requireZeroCodeEntry,
  spireAgentComponent,
  spirePaths,
  spireServerComponent,
} from "./components/spire.js";
import { COMPONENT_UIDS, homePaths, type RuntimeConfig } from "./layout.js";
import type { SupervisorState } from "./state.js";
import { Supervisor, type Component } from "./supervisor.js";

/**
 * The whole stack in dependency order: PostgreSQL (unless external), OpenBao, SPIRE server and
 * agent (with entries for Envoy and both servers, each selected by its uid), the development OIDC
 * issuer, the control plane, authz-server, extproc-server, Envoy.
 */
export function stackComponents(config: RuntimeConfig): {
  components: Component[];
  info: Omit<SupervisorState, "pid" | "startedAt" | "ready" | "components">;
} {
  const paths = homePaths(config.home);
  const { ports, trustDomain } = config;
  const asRoot = process.getuid?.() === 0;
  if (!asRoot)
    throw new Error(
      "warden up runs Envoy and both servers under their own uids (SPIRE tells workloads apart by uid): run it as root, or run the components by hand (docs/running.md)",
    );
  mkdirSync(paths.home, { recursive: true, mode: 0o711 });
  chmodSync(paths.home, 0o711);
  const spire = spirePaths(paths.spire);
  const bao = openBaoFiles(paths.openbao, ports.openbao);
  const identities = {
    envoy: workloadSpiffeId(trustDomain, "warden", "envoy"),
    authz: workloadSpiffeId(trustDomain, "warden", "authz"),
    extproc: workloadSpiffeId(trustDomain, "warden", "extproc"),
  };
  const inbound = config.inboundMcp;
  // The inbound sidecar's Envoy holds the MCP server's SVID (its own uid, its own entry).
  const inboundEnvoyId = inbound ? workloadSpiffeId(trustDomain, "mcp", inbound.server) : null;
  const zeroCode = config.zeroCode;
  const databaseUrl = config.externalDatabaseUrl ?? postgresUrl(ports.postgres);
  const oidcIssuer = `http://127.0.0.1:${ports.oidc}`;
  const controlPlaneUrl = `http://127.0.0.1:${ports.controlPlane}`;
  // `localhost`: browsers treat it as a secure context, so the portal's __Host- cookie works over http.
  const portalOrigin = `http://localhost:${ports.controlPlane}`;
  const idp = config.withIdp ? keycloakFiles({ dir: paths.keycloak, port: ports.keycloak }) : null;
  const spiffeEndpoint = `unix://${spire.agentSocket}`;
  const embedded = config.externalDatabaseUrl === null;
  // Both authz-servers (the agent's sidecar's and an inbound sidecar's) decide with the same policy,
  // registry and keys.
  // Traces (docs/observability.md): every server and sidecar exports to the same collector, or none does.
  const tracing = { otlpEndpoint: config.otlpEndpoint };
  const authzCommon = {
    ...tracing,
    trustDomain,
    spiffeEndpoint,
    workers: config.workers,
    uid: COMPONENT_UIDS.authz,
    databaseUrl: embedded ? dataPlaneUrl(databaseUrl, DATA_PLANE_LOGINS.authz) : databaseUrl,
    policyDir: paths.policy,
    jwksUrl: `${controlPlaneUrl}/.well-known/jwks.json`,
  };

  const components: Component[] = [
    ...(embedded ? [postgresComponent(paths.postgres, ports.postgres)] : []),
    openBaoComponent(paths.openbao, ports.openbao, ports.openbaoCluster, trustDomain, {
      extprocUid: COMPONENT_UIDS.extproc,
    }),
    spireServerComponent(spire, trustDomain, ports.spireServer),
    spireAgentComponent(spire, trustDomain, ports.spireServer, [
      { spiffeId: identities.envoy, selectors: [`unix:uid:${COMPONENT_UIDS.envoy}`] },
      { spiffeId: identities.authz, selectors: [`unix:uid:${COMPONENT_UIDS.authz}`] },
      { spiffeId: identities.extproc, selectors: [`unix:uid:${COMPONENT_UIDS.extproc}`] },
      ...(inboundEnvoyId
        ? [{ spiffeId: inboundEnvoyId, selectors: [`unix:uid:${COMPONENT_UIDS.inboundEnvoy}`] }]
        : []),
    ]),
    redisComponent(paths.redis, ports.redis),
    rateLimitServiceComponent(
      paths.ratelimit,
      { grpc: ports.ratelimitGrpc, http: ports.ratelimitHttp, debug: ports.ratelimitDebug },
      ports.redis,
    ),
    devOidcComponent(paths.oidc, ports.oidc),
    ...(idp
      ? [
          keycloakComponent({
            dir: paths.keycloak,
            port: ports.keycloak,
            managementPort: ports.keycloakManagement,
            portalOrigins: [portalOrigin],
          }),
        ]
      : []),
    controlPlaneComponent({
      ...(idp
        ? {
            portal: {
              issuer: idp.issuer,
              clientId: PORTAL_CLIENT_ID,
              clientSecretFile: idp.clientSecretFile,
              url: `${portalOrigin}/portal`,
              // The files authz-server's prepare step writes (ensurePolicyBundle); read per page load.
              policyBundle: policyBundleFiles(paths.policy),
            },
          }
        : {}),
      rateLimitConfigFile: rateLimitConfigPaths(paths.ratelimit).configFile,
      port: ports.controlPlane,
      oidcIssuer,
      databaseUrl,
      vaultAddress: bao.address,
      vaultCaFile: bao.caFile,
      vaultTokenFile: bao.controlPlaneTokenFile,
      trustDomain,
      createDataPlaneLogins: embedded,
      dir: paths.controlPlane,
    }),
    authzComponent({
      ...authzCommon,
      port: ports.authz,
      statusPort: ports.authzStatus,
      dir: paths.authz,
    }),
    extprocComponent({
      ...tracing,
      trustDomain,
      spiffeEndpoint,
      workers: config.workers,
      uid: COMPONENT_UIDS.extproc,
      databaseUrl: embedded ? dataPlaneUrl(databaseUrl, DATA_PLANE_LOGINS.extproc) : databaseUrl,
      port: ports.extproc,
      statusPort: ports.extprocStatus,
      vaultAddress: bao.address,
      vaultCaFile: bao.caFile,
      vaultClient: bao.extprocClient,
      dir: paths.extproc,
      rateLimitPort: ports.ratelimitGrpc,
      // One extproc-server serves both sidecars on this machine.
      // (and a zero-code sidecar, which holds its bound agent's SVID).
      allowedClients:
        inboundEnvoyId || zeroCode
          ? [
              identities.envoy,
              ...(inboundEnvoyId ? [inboundEnvoyId] : []),
              ...(zeroCode ? [zeroCode.spiffeId] : []),
            ]
          : undefined,
    }),
    envoyComponent({
      ...tracing,
      dir: paths.envoy,
      agentPort: ports.agent,
      adminPort: ports.envoyAdmin,
      authzPort: ports.authz,
      extprocPort: ports.extproc,
      spireAgentSocket: spire.agentSocket,
      trustDomain,
      identities,
      uid: COMPONENT_UIDS.envoy,
      // One connection per Envoy thread, one server process per connection: as many threads as processes.
      concurrency: config.workers,
      devUpstream: config.devUpstream,
      mcpRoutes: config.mcpRoutes,
      rateLimitPort: ports.ratelimitGrpc,
    }),
    ...(inbound && inboundEnvoyId
      ? [
          authzComponent({
            ...authzCommon,
            port: ports.inboundAuthz,
            statusPort: ports.inboundAuthzStatus,
            dir: paths.inboundAuthz,
            inbound: {
              name: "inbound-authz",
              server: inbound.server,
              resourceUri: inbound.resourceUri,
              envoySpiffeId: inboundEnvoyId,
            },
          }),
          inboundEnvoyComponent({
            ...tracing,
            dir: paths.inboundEnvoy,
            port: ports.inboundMcp,
            adminPort: ports.inboundAdmin,
            authzPort: ports.inboundAuthz,
            extprocPort: ports.extproc,
            spireAgentSocket: spire.agentSocket,
            trustDomain,
            identities: { ...identities, envoy: inboundEnvoyId },
            uid: COMPONENT_UIDS.inboundEnvoy,
            concurrency: config.workers,
            server: inbound.server,
            upstream: inbound.upstream,
            resourceUri: inbound.resourceUri,
            authorizationServer: controlPlaneUrl,
            // The MCP server's sidecar counts against the same shared limits (docs/rate-limits.md).
            rateLimitPort: ports.ratelimitGrpc,
          }),
        ]
      : []),
    ...(zeroCode ? zeroCodeComponents() : []),
  ];

  /**
   * Zero-code mode: the bound agent's sidecar (its Envoy under its own uid, holding the agent's SVID)
   * and the authz-server that believes its plain-HTTP routes; both last, once SPIRE and the control
   * plane run, so the agent's registration can be checked first.
   */
  function zeroCodeComponents(): Component[] {
    if (!zeroCode) return [];
    const authz = authzComponent({
      ...tracing,
      trustDomain,
      spiffeEndpoint,
      workers: config.workers,
      uid: COMPONENT_UIDS.authz,
      databaseUrl: embedded ? dataPlaneUrl(databaseUrl, DATA_PLANE_LOGINS.authz) : databaseUrl,
      port: ports.zeroCodeAuthz,
      statusPort: ports.zeroCodeAuthzStatus,
      policyDir: paths.policy,
      jwksUrl: `${controlPlaneUrl}/.well-known/jwks.json`,
      dir: paths.zeroCodeAuthz,
      zeroCode: { name: "zero-code-authz", agentSpiffeId: zeroCode.spiffeId },
    });
    const prepareAuthz = authz.prepare?.bind(authz);
    authz.prepare = async () => {
      await requireZeroCodeEntry(spire, zeroCode.agent, zeroCode.spiffeId, COMPONENT_UIDS.zeroCodeEnvoy);
      await prepareAuthz?.();
    };
    return [
      authz,
      zeroCodeEnvoyComponent({
        ...tracing,
        dir: paths.zeroCodeEnvoy,
        port: ports.zeroCode,
        mtlsPort: ports.zeroCodeMtls,
        adminPort: ports.zeroCodeAdmin,
        authzPort: ports.zeroCodeAuthz,
        extprocPort: ports.extproc,
        spireAgentSocket: spire.agentSocket,
        trustDomain,
        identities,
        uid: COMPONENT_UIDS.zeroCodeEnvoy,
        concurrency: config.workers,
        devUpstream: config.devUpstream,
        mcpRoutes: config.mcpRoutes,
        agent: zeroCode.agent,
        agentSpiffeId: zeroCode.spiffeId,
        rateLimitPort: ports.ratelimitGrpc,
      }),
    ];
  }
  return {
    components,
    info: {
      home: paths.home,
      trustDomain,
      agentUrl: `https://127.0.0.1:${ports.agent}`,
      controlPlaneUrl,
      oidcIssuer,
      authzStatusUrl: `http://127.0.0.1:${ports.authzStatus}`,
      databaseUrl,
      workloadEndpoint: spiffeEndpoint,
      envoySpiffeId: identities.envoy,
      ...(inbound ? { inboundMcpUrl: `https://127.0.0.1:${ports.inboundMcp}` } : {}),
      ...(zeroCode
        ? {
            zeroCode: {
              agent: zeroCode.agent,
              spiffeId: zeroCode.spiffeId,
              url: `http://127.0.0.1:${ports.zeroCode}`,
              mtlsUrl: `https://127.0.0.1:${ports.zeroCodeMtls}`,
            },
          }
        : {}),
    },
  };
}

export function createSupervisor(config: RuntimeConfig, say?: (line: string) => void): Supervisor {
  const { components, info } = stackComponents(config);
  return new Supervisor(homePaths(config.home), components, info, say);
}
