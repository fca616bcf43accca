import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ValidateFunction } from "ajv/dist/2020.js";
import { requireRole, type Authenticator, type Principal } from "./auth.js";
import { ApiError } from "./errors.js";
import { runAsPrincipal } from "../tenants/request-scope.js";
import type { ApiDocument, JsonSchema, OperationSpec } from "./openapi.js";
import {
  compileRequestValidator,
  compileResponseValidator,
  fieldProblems,
  type HttpPart,
} from "./validation.js";

/**
 * Registers one Fastify route per OpenAPI operation: request validation from the document's schemas,
 * authentication and roles from its `security` and `x-warden-roles`, and a check of every JSON
 * response against the document. An operation without a handler, or a handler without an
 * operation, stops the server from starting.
 */
export type OperationHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
export type Handlers = Record<string, OperationHandler>;

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    operationId?: string;
  }
}

/** Deeper JSON than any of our schemas allows would only exhaust the stack later (JSON.stringify, jsonb). */
export const MAX_BODY_DEPTH = 32;

export function exceedsDepth(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (depth > limit) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new ApiError("unauthenticated", "a bearer token is required");
  return request.principal;
}

function responseValidators(
  operation: OperationSpec,
  errorSchema: JsonSchema,
): Map<number, ValidateFunction | null> {
  const validators = new Map<number, ValidateFunction | null>();
  for (const [status, schema] of operation.responses)
    validators.set(status, schema ? compileResponseValidator(schema) : null);
  validators.set(0, compileResponseValidator(errorSchema));
  return validators;
}

export function registerOperations(
  app: FastifyInstance,
  api: ApiDocument,
  handlers: Handlers,
  authenticator: Authenticator,
  errorSchema: JsonSchema,
): void {
  const known = new Set(api.operations.map((o) => o.operationId));
  const orphans = Object.keys(handlers).filter((id) => !known.has(id));
  if (orphans.length) throw new Error(`handlers without an OpenAPI operation: ${orphans.join(", ")}`);
  if (!app.hasRequestDecorator("principal")) app.decorateRequest("principal", null);

  for (const operation of api.operations) {
    const handler = handlers[operation.operationId];
    if (!handler) throw new Error(`OpenAPI operation ${operation.operationId} has no handler`);
    const validators = responseValidators(operation, errorSchema);
    const roles = operation.roles;

    app.route({
      method: operation.method,
      url: operation.routePath,
      config: { operationId: operation.operationId },
      schema: {
        ...(operation.params ? { params: operation.params } : {}),
        ...(operation.querystring ? { querystring: operation.querystring } : {}),
        ...(operation.body ? { body: operation.body } : {}),
      },
      validatorCompiler: ({ schema, httpPart }) => {
        const validate = compileRequestValidator(schema as JsonSchema, httpPart as HttpPart);
        if (httpPart !== "body" || operation.bodyRequired) return validate;
        // An optional body may be absent; Fastify reads the errors of the last call from `.errors`.
        const optional = (data: unknown) => data === undefined || data === null || validate(data);
        return Object.defineProperty(optional, "errors", { get: () => validate.errors });
      },
      onRequest: roles
        ? async (request) => {
            const principal = await authenticator.authenticate(request.headers.authorization);
            // Set before the role check, so a refusal (403) is audited with the caller's identity.
            request.principal = principal;
            requireRole(principal, roles);
          }
        : undefined,
      preValidation: async (request) => {
        if (exceedsDepth(request.body, MAX_BODY_DEPTH)) {
          throw new ApiError("bad_request", `request body is nested deeper than ${MAX_BODY_DEPTH} levels`, [
            { field: "body", message: `is nested deeper than ${MAX_BODY_DEPTH} levels` },
          ]);
        }
      },
      preSerialization: async (request, reply, payload) => {
        const status = reply.statusCode;
        const validate = validators.has(status)
          ? validators.get(status)
          : status >= 400
            ? validators.get(0)
            : undefined;
        if (validate === null) return payload;
        if (validate === undefined || !validate(payload)) {
          const problems = validate
            ? fieldProblems(validate.errors)
            : [{ field: "status", message: `${status} is not documented` }];
          request.log.error(
            { operation: operation.operationId, status, problems },
            "response does not match the OpenAPI document",
          );
          if (status < 400) throw new ApiError("internal", "the response did not match the API contract");
        }
        return payload;
      },
      handler: (request, reply) => runAsPrincipal(request.principal, () => handler(request, reply)),
    });
  }
}
