import { z } from "zod";
import { env, loadConfig } from "../../lib/src/config.js";
import { spiffeServerConfigShape } from "../../lib/src/spiffe/grpc-mtls.js";

export const authzConfigShape = {
  ...spiffeServerConfigShape,
  WARDEN_AUTHZ_LISTEN: env.listenAddress("127.0.0.1:9001"),
  WARDEN_POLICY_BUNDLE: env.path(),
  WARDEN_POLICY_PUBLIC_KEY: z.string().min(1).optional(),
  WARDEN_POLICY_REQUIRE_SIGNATURE: env.bool(true),
  WARDEN_POLICY_DRY_RUN: env.bool(false),
  WARDEN_POLICY_POLL_MS: env.positiveInt(2_000),
  WARDEN_AUTHZ_STATUS_LISTEN: env.listenAddress("127.0.0.1:9101"),
  WARDEN_REGISTRY_FILE: z.string().min(1).optional(),
  WARDEN_LOG_LEVEL: env.logLevel(),
  WARDEN_SHUTDOWN_GRACE_MS: env.positiveInt(5_000),
};

export type AuthzConfig = ReturnType<typeof loadAuthzConfig>;

export function loadAuthzConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(authzConfigShape, source);
  return config;
}
