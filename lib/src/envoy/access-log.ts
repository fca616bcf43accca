import { typed, type JsonObject } from "./config-json.js";
import { REQ_WITHOUT_QUERY } from "./local-replies.js";
import { EXT_AUTHZ_NAMESPACE } from "./params.js";

/** Timing and decision; never a header that can carry a credential, never the query string. */
export const ACCESS_LOG_FORMAT: Readonly<Record<string, string>> = {
  start_time: "%START_TIME%",
  request_id: "%REQ(X-REQUEST-ID)%",
  decision_id: `%DYNAMIC_METADATA(${EXT_AUTHZ_NAMESPACE}:decision_id)%`,
  // The identity authz-server verified (allowed requests), never the URI SAN a client merely presented:
  // the agent listener lets unverified certificates through the handshake (see downstreamTlsSocket).
  agent: `%DYNAMIC_METADATA(${EXT_AUTHZ_NAMESPACE}:agent_spiffe_id)%`,
  method: "%REQ(:METHOD)%",
  // As sent upstream (the route's prefix removed); `route` names the destination.
  path: "%REQ_WITHOUT_QUERY(:PATH)%",
  protocol: "%PROTOCOL%",
  route: "%ROUTE_NAME%",
  status: "%RESPONSE_CODE%",
  response_code_details: "%RESPONSE_CODE_DETAILS%",
  response_flags: "%RESPONSE_FLAGS%",
  bytes_received: "%BYTES_RECEIVED%",
  bytes_sent: "%BYTES_SENT%",
  duration_ms: "%DURATION%",
  request_duration_ms: "%REQUEST_DURATION%",
  response_duration_ms: "%RESPONSE_DURATION%",
  response_tx_duration_ms: "%RESPONSE_TX_DURATION%",
  upstream_cluster: "%UPSTREAM_CLUSTER%",
  upstream_host: "%UPSTREAM_HOST%",
  upstream_transport_failure: "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
  user_agent: "%REQ(USER-AGENT)%",
};

export function accessLog(path: string | null): JsonObject {
  const log_format = { json_format: { ...ACCESS_LOG_FORMAT }, formatters: [REQ_WITHOUT_QUERY] };
  // Envoy's own stdout, not /dev/stdout: that cannot be opened when stdout is a socket.
  if (path === null) {
    return {
      name: "envoy.access_loggers.stdout",
      typed_config: typed("envoy.extensions.access_loggers.stream.v3.StdoutAccessLog", { log_format }),
    };
  }
  return {
    name: "envoy.access_loggers.file",
    typed_config: typed("envoy.extensions.access_loggers.file.v3.FileAccessLog", { path, log_format }),
  };
}
