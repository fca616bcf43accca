import { readFileSync } from "node:fs";
import { parse } from "yaml";

/**
 * Reads the OpenAPI document (the source of truth of the API) and turns each operation into what
 * the server needs: method, path, roles and plain JSON Schemas (references resolved, `x-` extensions
 * removed) for parameters, body and every response.
 */
export const ROLES = ["platform_admin", "admin", "reviewer", "creator", "viewer", "user"] as const;
export type Role = (typeof ROLES)[number];

export type JsonSchema = Record<string, unknown>;
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface OperationSpec {
  operationId: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  /** The path in Fastify's syntax (`/v1/agents/:id`). */
  routePath: string;
  /** Roles allowed; null for public operations. */
  roles: Role[] | null;
  params: JsonSchema | null;
  querystring: JsonSchema | null;
  body: JsonSchema | null;
  bodyRequired: boolean;
  /** JSON response schema per status; null when the response is not JSON (e.g. NDJSON). */
  responses: Map<number, JsonSchema | null>;
}

export interface ApiDocument {
  document: JsonObject;
  operations: OperationSpec[];
}

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function pointer(document: JsonObject, ref: string): Json {
  if (!ref.startsWith("#/")) throw new Error(`only local references are supported: ${ref}`);
  let node: Json = document;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isObject(node) || !(key in node)) throw new Error(`unresolvable reference ${ref}`);
    node = node[key]!;
  }
  return node;
}

/** Inlines every `$ref` (siblings such as `description` are kept) and drops `x-` extensions. */
export function dereference(node: Json, document: JsonObject, depth = 0): Json {
  if (depth > 64) throw new Error("reference nesting too deep (cycle?)");
  if (Array.isArray(node)) return node.map((item) => dereference(item, document, depth + 1));
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  if (typeof node.$ref === "string")
    Object.assign(out, dereference(pointer(document, node.$ref), document, depth + 1));
  for (const [key, value] of Object.entries(node)) {
    if (key === "$ref" || key.startsWith("x-")) continue;
    out[key] = dereference(value, document, depth + 1);
  }
  return out;
}

function parametersSchema(
  parameters: JsonObject[],
  location: "path" | "query",
  ignoreUnknown = false,
): JsonSchema | null {
  const selected = parameters.filter((p) => p.in === location);
  if (selected.length === 0) return null;
  const properties: JsonObject = {};
  const required: string[] = [];
  for (const p of selected) {
    properties[p.name as string] = (p.schema ?? {}) as JsonObject;
    if (p.required === true) required.push(p.name as string);
  }
  return {
    type: "object",
    // `x-warden-unknown-query: ignore`: a redirect URI must ignore parameters it does not know (RFC 6749 §4.1.2).
    additionalProperties: ignoreUnknown,
    properties,
    ...(required.length ? { required } : {}),
  };
}

function jsonSchemaOf(content: Json | undefined): JsonSchema | null {
  if (!isObject(content)) return null;
  const json = content["application/json"];
  return isObject(json) && isObject(json.schema) ? json.schema : null;
}

export function loadApiDocument(path: string): ApiDocument {
  const document = parse(readFileSync(path, "utf8")) as JsonObject;
  const globalSecurity = document.security;
  const operations: OperationSpec[] = [];
  for (const [path, rawItem] of Object.entries((document.paths ?? {}) as JsonObject)) {
    const item = rawItem as JsonObject;
    for (const method of METHODS) {
      const rawOperation = item[method];
      if (!isObject(rawOperation)) continue;
      const operation = dereference(rawOperation, document) as JsonObject;
      const shared = dereference(item.parameters ?? [], document) as JsonObject[];
      const parameters = [...shared, ...((operation.parameters ?? []) as JsonObject[])];
      const security = rawOperation.security ?? globalSecurity;
      const isPublic = Array.isArray(security) && security.length === 0;
      const roles = rawOperation["x-warden-roles"];
      if (!isPublic && !Array.isArray(roles))
        throw new Error(`${method.toUpperCase()} ${path}: secured operation without x-warden-roles`);
      const requestBody = operation.requestBody as JsonObject | undefined;
      const responses = new Map<number, JsonSchema | null>();
      for (const [status, response] of Object.entries((operation.responses ?? {}) as JsonObject)) {
        responses.set(Number(status), jsonSchemaOf((response as JsonObject).content));
      }
      operations.push({
        operationId: String(operation.operationId),
        method: method.toUpperCase() as OperationSpec["method"],
        path,
        routePath: path.replace(/\{([^}]+)\}/g, ":$1"),
        roles: isPublic ? null : (roles as Role[]),
        params: parametersSchema(parameters, "path"),
        querystring: parametersSchema(
          parameters,
          "query",
          rawOperation["x-warden-unknown-query"] === "ignore",
        ),
        body: requestBody ? jsonSchemaOf(requestBody.content) : null,
        bodyRequired: requestBody?.required === true,
        responses,
      });
    }
  }
  return { document, operations };
}
