/**
 * Where the sidecar is and who it must be: WARDEN_SIDECAR_URL (default the `warden up` agent port on
 * loopback), the sidecar's SPIFFE ID (default spiffe://<the agent's trust domain>/warden/envoy).
 */
export const DEFAULT_SIDECAR_URL = "https://127.0.0.1:10000";
export const DELEGATION_HEADER = "x-warden-delegation";

export function sidecarUrlFrom(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const url = new URL(given ?? env.WARDEN_SIDECAR_URL ?? DEFAULT_SIDECAR_URL);
  if (url.protocol !== "https:") throw new Error(`the sidecar URL must be https (mTLS), got ${url.protocol}`);
  return url.toString().replace(/\/$/, "");
}

export function sidecarSpiffeIdFrom(
  given: string | undefined,
  trustDomain: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return given ?? env.WARDEN_SIDECAR_SPIFFE_ID ?? `spiffe://${trustDomain}/warden/envoy`;
}
