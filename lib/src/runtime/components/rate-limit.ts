import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { renderServiceConfig } from "../../ratelimit/service-config.js";
import { httpOk, waitWhileAlive } from "../child.js";
import { toolPath } from "../layout.js";
import type { Component } from "../supervisor.js";

/**
 * Shared rate limits: Redis (Debian's redis-server) holds the counters, envoyproxy/ratelimit (built
 * by scripts/setup into .tools/bin/ratelimit) answers the sidecars' ShouldRateLimit calls. Both on
 * loopback only. The service reads its limits from `<dir>/runtime/ratelimit/config/*.yaml` and
 * reloads when a file there changes; the control plane writes that file from the API's limits
 * (lib/src/ratelimit/service-config.ts). docs/rate-limits.md.
 */

/** Debian's redis-server, or one in .tools/bin (scripts/setup links it there). */
export function redisBinary(): string {
  const tool = toolPath("redis-server");
  return existsSync(tool) ? tool : "/usr/bin/redis-server";
}

/** Redis answers PING with +PONG (inline command, no client library needed). */
export function redisPing(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

export function redisComponent(dir: string, port: number): Component {
  return {
    name: "redis",
    ports: { redis: port },
    prepare() {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      return Promise.resolve();
    },
    launch() {
      return {
        command: redisBinary(),
        // Counters of the current minute only: nothing worth persisting, nothing written to disk.
        args: [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--protected-mode",
          "yes",
          "--save",
          "",
          "--appendonly",
          "no",
          "--dir",
          dir,
        ],
        stopSignals: ["SIGTERM", "SIGKILL"],
      };
    },
    ready: (alive) => waitWhileAlive("redis to answer PING", alive, () => redisPing(port), 20_000),
    healthy: () => redisPing(port),
  };
}

export interface RateLimitServicePorts {
  grpc: number;
  http: number;
  debug: number;
}

/** The folder the service watches, and the file Warden's limits are written to. */
export function rateLimitConfigPaths(dir: string): {
  runtimeRoot: string;
  configDir: string;
  configFile: string;
} {
  const runtimeRoot = join(dir, "runtime");
  const configDir = join(runtimeRoot, "ratelimit", "config");
  return { runtimeRoot, configDir, configFile: join(configDir, "warden.yaml") };
}

/** The service's environment (its configuration is environment variables only). */
export function rateLimitServiceEnv(
  dir: string,
  ports: RateLimitServicePorts,
  redisPort: number,
): NodeJS.ProcessEnv {
  return {
    HOST: "127.0.0.1",
    PORT: String(ports.http),
    GRPC_HOST: "127.0.0.1",
    GRPC_PORT: String(ports.grpc),
    DEBUG_HOST: "127.0.0.1",
    DEBUG_PORT: String(ports.debug),
    USE_STATSD: "false",
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    BACKEND_TYPE: "redis",
    REDIS_SOCKET_TYPE: "tcp",
    REDIS_URL: `127.0.0.1:${redisPort}`,
    // Each call's INCRBYs go to Redis at once: no pipelining window that would add latency.
    REDIS_PIPELINE_WINDOW: "0",
    RUNTIME_ROOT: rateLimitConfigPaths(dir).runtimeRoot,
    RUNTIME_SUBDIRECTORY: "ratelimit",
    RUNTIME_APPDIRECTORY: "config",
    // Watch the config folder itself (a file written there is picked up), not a symlinked root.
    RUNTIME_WATCH_ROOT: "false",
    RUNTIME_IGNOREDOTFILES: "true",
  };
}

/** Writes an empty limit set if there is none yet: the service refuses to start without a domain. */
export function ensureRateLimitConfig(dir: string): string {
  const { configDir, configFile } = rateLimitConfigPaths(dir);
  mkdirSync(configDir, { recursive: true });
  if (!existsSync(configFile)) writeFileSync(configFile, renderServiceConfig([]));
  return configFile;
}

export function rateLimitServiceComponent(
  dir: string,
  ports: RateLimitServicePorts,
  redisPort: number,
): Component {
  return {
    name: "ratelimit",
    ports: { grpc: ports.grpc, http: ports.http },
    prepare() {
      ensureRateLimitConfig(dir);
      return Promise.resolve();
    },
    launch() {
      return {
        command: toolPath("ratelimit"),
        args: [],
        env: rateLimitServiceEnv(dir, ports, redisPort),
        stopSignals: ["SIGTERM", "SIGKILL"],
      };
    },
    ready: (alive) =>
      waitWhileAlive(
        "the rate-limit service's health check",
        alive,
        () => httpOk(`http://127.0.0.1:${ports.http}/healthcheck`),
        30_000,
      ),
    healthy: () => httpOk(`http://127.0.0.1:${ports.http}/healthcheck`),
  };
}
