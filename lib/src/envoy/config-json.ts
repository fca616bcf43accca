/** The building blocks of Envoy's JSON configuration, shared by every part of the bootstrap. */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function typed(type: string, fields: JsonObject): JsonObject {
  return { "@type": `type.googleapis.com/${type}`, ...fields };
}

export function socketAddress(address: string, portValue: number): JsonObject {
  return { socket_address: { address, port_value: portValue } };
}

export function singleEndpoint(clusterName: string, address: JsonObject): JsonObject {
  return { cluster_name: clusterName, endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }] };
}

export function seconds(s: number): string {
  return `${s}s`;
}

export function millis(ms: number): string {
  return `${ms / 1000}s`;
}
