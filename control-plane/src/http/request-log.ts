import type { FastifyInstance, FastifyRequest } from "fastify";
import { redactUrl } from "../../../lib/src/redact-url.js";

/**
 * One log line per request, written by us instead of Fastify's built-in request logging (turned off
 * with `disableRequestLogging`), because the built-in one writes the full URL: OAuth callbacks carry
 * codes and states in the query. Every URL here goes through redactUrl.
 */
export function logRequests(app: FastifyInstance): void {
  app.addHook("onResponse", async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: redactUrl(request.url),
        status: reply.statusCode,
        operation: operationOf(request),
        subject: request.principal?.subject,
        response_ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      "request completed",
    );
  });
}

/** The OpenAPI operation of a request; none for unknown routes (whose route config may be absent). */
export function operationOf(request: FastifyRequest): string | undefined {
  const config = request.routeOptions.config as { operationId?: string } | undefined;
  return config?.operationId;
}
