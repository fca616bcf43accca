import { typed, type JsonObject } from "./config-json.js";
import { SPIRE_AGENT_CLUSTER, type DownstreamTls } from "./params.js";

/**
 * Envoy → authz-server / extproc-server: Envoy presents its own SVID, and accepts the server only if
 * its certificate chains to the SPIRE bundle and carries the server's SPIFFE ID (the chain alone
 * would accept any workload of the trust domain).
 */
export function serverMtlsSocket(
  tls: DownstreamTls,
  serverSpiffeId: string,
  // grpc-js (Node's HTTP/2 server) only talks to clients that negotiate h2.
  options: { alpn: string[]; sni?: string } = { alpn: ["h2"] },
): JsonObject {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: typed("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", {
      ...(options.sni ? { sni: options.sni } : {}),
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: "TLSv1_2" },
        alpn_protocols: options.alpn,
        tls_certificate_sds_secret_configs: [sdsFromSpireAgent(tls.svidName)],
        combined_validation_context: {
          default_validation_context: {
            match_typed_subject_alt_names: [{ san_type: "URI", matcher: { exact: serverSpiffeId } }],
          },
          validation_context_sds_secret_config: sdsFromSpireAgent(tls.trustBundleName),
        },
      },
    }),
  };
}

/**
 * Outbound sidecar → a Warden inbound sidecar in front of an MCP server: the same mutual SVID check
 * as towards our own servers (the upstream must hold exactly the MCP server's SPIFFE ID), over
 * HTTP/1.1 or h2.
 */
export function wardenSidecarUpstreamSocket(tls: DownstreamTls, spiffeId: string, sni: string): JsonObject {
  return serverMtlsSocket(tls, spiffeId, { alpn: ["h2", "http/1.1"], sni });
}

export /**
 * Envoy asks every agent for its X.509-SVID (the SPIRE bundle over SDS makes it send a certificate
 * request) but lets the handshake complete whatever comes back, or nothing: a refusal at the TLS layer
 * would reach the agent as a handshake error, where the product promises a 401 JSON that says why.
 * authz-server does the verification instead (chain to its own Workload API bundles, validity, one
 * SPIFFE URI SAN, trust domain) on the certificate ext_authz forwards, fail-closed, and every route that
 * reaches an upstream runs ext_authz (the catch-all 404 answers locally, reaching nothing).
 */
function downstreamTlsSocket(tls: DownstreamTls): JsonObject {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: typed("envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", {
      require_client_certificate: false,
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: "TLSv1_2" },
        alpn_protocols: ["h2", "http/1.1"],
        tls_certificate_sds_secret_configs: [sdsFromSpireAgent(tls.svidName)],
        combined_validation_context: {
          default_validation_context: { trust_chain_verification: "ACCEPT_UNTRUSTED" },
          validation_context_sds_secret_config: sdsFromSpireAgent(tls.trustBundleName),
        },
      },
    }),
  };
}

/**
 * The SPIRE agent answers an Envoy ≥ 1.18 with its SPIFFE certificate validator
 * (`envoy.tls.cert_validator.spiffe`) unless the Envoy's node metadata opts out. That validator
 * demands a client certificate and ignores `trust_chain_verification`, so the agent listener could not
 * let an unverified caller through to its 401 (checked with SPIRE 1.13 and Envoy 1.40). With the opt-out
 * SPIRE sends the bundle as `trusted_ca`, and Envoy's default validator applies our settings; the
 * clusters to our servers still check the chain and pin the exact SPIFFE ID (serverMtlsSocket).
 */
export const SPIRE_SDS_NODE_METADATA: Readonly<JsonObject> = { disable_spiffe_cert_validation: true };

function sdsFromSpireAgent(name: string): JsonObject {
  return {
    name,
    sds_config: {
      resource_api_version: "V3",
      api_config_source: {
        api_type: "GRPC",
        transport_api_version: "V3",
        grpc_services: [{ envoy_grpc: { cluster_name: SPIRE_AGENT_CLUSTER } }],
      },
    },
  };
}
