import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { auditHandlers } from "./audit/handlers.js";
import { policyRevisionHandlers } from "./audit/policy-revision.js";
import type { CallerIdentity } from "./audit/refusals.js";
import { budgetHandlers } from "./budgets/handlers.js";
import type { AppContext } from "./context.js";
import { OPENAPI_PATH } from "./files.js";
import { healthHandlers } from "./health.js";
import type { Authenticator } from "./http/auth.js";
import { ApiError, sendError } from "./http/errors.js";
import { dereference, loadApiDocument, type JsonSchema } from "./http/openapi.js";
import { listenerOptions, watchRequests } from "./http/listener.js";
import { registerOperations, type Handlers } from "./http/routes.js";
import { serveMetrics } from "./http/metrics.js";
import type { Secret } from "../../lib/src/config.js";
import { kyaHandlers } from "./kya/handlers.js";
import { registryHandlers } from "./registry/handlers.js";
import { usageHandlers } from "./usage/handlers.js";
import { refuseChangesOfSuspendedTenants } from "./tenants/suspension-gate.js";

export interface ServerOptions {
  context: AppContext;
  authenticator: Authenticator;
  bodyLimit: number;
  /** When set, /metrics asks for it as a bearer token (http/metrics.ts). */
  metricsToken?: Secret;
  /** Handlers of further operations (delegations, token service discovery), built by app.ts. */
  handlers?: Handlers;
}

/** The HTTP API: every route comes from openapi.yaml; docs at /docs, the document at /openapi.json. */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { context } = options;
  const api = loadApiDocument(OPENAPI_PATH);
  const app = Fastify(listenerOptions(context.logger, options.bodyLimit));
  watchRequests(
    app,
    context.auditWriter
      ? { writer: context.auditWriter, logger: context.logger, source: "api", identify: apiCaller }
      : null,
  );

  serveMetrics(app, { db: context.db, token: options.metricsToken });

  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendError(
      new ApiError("not_found", `no route for ${request.method} ${request.url.split("?")[0]}`),
      request,
      reply,
    ),
  );
  app.addHook("onSend", async (request, reply, payload) => {
    void reply.header("x-request-id", String(request.id));
    return payload;
  });

  await app.register(swagger, { mode: "static", specification: { document: api.document as never } });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, async () => api.document);

  const errorSchema = dereference({ $ref: "#/components/schemas/Error" }, api.document) as JsonSchema;
  refuseChangesOfSuspendedTenants(app, context.db);
  registerOperations(
    app,
    api,
    {
      ...healthHandlers(context),
      ...registryHandlers(context, "agent"),
      ...registryHandlers(context, "mcp_server"),
      ...kyaHandlers(context),
      ...auditHandlers(context),
      ...policyRevisionHandlers(context),
      ...usageHandlers(context),
      ...budgetHandlers(context),
      ...options.handlers,
    },
    options.authenticator,
    errorSchema,
  );
  return app;
}

function requestedTenant(request: FastifyRequest): string | null {
  for (const part of [request.params, request.query, request.body]) {
    if (part !== null && typeof part === "object" && "tenant" in part) {
      const tenant = (part as { tenant: unknown }).tenant;
      if (typeof tenant === "string") return tenant;
    }
  }
  return null;
}

/** The authenticated caller; an operator not limited to a tenant is audited in the tenant it asked for. */
function apiCaller(request: FastifyRequest): CallerIdentity {
  const principal = request.principal;
  if (!principal) return { actor: null, tenant: null };
  return { actor: principal.subject, tenant: principal.tenant ?? requestedTenant(request) };
}
