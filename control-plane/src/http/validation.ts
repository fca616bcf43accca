import ajvModule, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import formatsModule from "ajv-formats";
import type { JsonSchema } from "./openapi.js";

/**
 * JSON Schema 2020-12 validation (the dialect of OpenAPI 3.1). Bodies are checked as sent: no type
 * coercion and unknown fields refused, so `"limit": "5"` or a stray field is a 400. Query strings and
 * path parameters arrive as text, so those are coerced to the declared types.
 */
const Ajv2020 = ajvModule.default;
const addFormats = formatsModule.default;

function createAjv(coerce: boolean) {
  const ajv = new Ajv2020({
    allErrors: true,
    coerceTypes: coerce ? "array" : false,
    useDefaults: true,
    removeAdditional: false,
    strict: true,
    strictTypes: false,
    strictRequired: false,
    allowUnionTypes: true,
    verbose: true,
  });
  addFormats(ajv);
  return ajv;
}

const bodyAjv = createAjv(false);
const textAjv = createAjv(true);

export type HttpPart = "body" | "querystring" | "params" | "headers";

export function compileRequestValidator(schema: JsonSchema, part: HttpPart): ValidateFunction {
  return (part === "body" ? bodyAjv : textAjv).compile(schema);
}

export function compileResponseValidator(schema: JsonSchema): ValidateFunction {
  return bodyAjv.compile(schema);
}

export interface FieldProblem {
  field: string;
  message: string;
}

function fieldPath(instancePath: string): string {
  return instancePath
    .split("/")
    .slice(1)
    .map((segment) => segment.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce(
      (acc, segment) => (/^\d+$/.test(segment) ? `${acc}[${segment}]` : acc ? `${acc}.${segment}` : segment),
      "",
    );
}

function join(path: string, name: unknown): string {
  return path ? `${path}.${String(name)}` : String(name);
}

/** "needs one of: a, b" for an anyOf whose branches only require fields. */
function anyOfMessage(schema: unknown): string {
  const branches = Array.isArray(schema) ? (schema as Record<string, unknown>[]) : [];
  const names = branches.flatMap((b) =>
    Array.isArray(b.required) && Object.keys(b).length === 1 ? (b.required as string[]) : [],
  );
  return names.length === branches.length && names.length > 0
    ? `needs one of: ${names.join(", ")}`
    : "does not match any allowed shape";
}

/** One line per offending field, named the way the client wrote it (`capabilities[2]`, `query.limit`). */
export function fieldProblems(
  errors: readonly ErrorObject[] | null | undefined,
  part?: string,
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const seen = new Set<string>();
  for (const error of errors ?? []) {
    // Branch failures inside anyOf/oneOf are summarised by the anyOf/oneOf error itself.
    if (/\/(anyOf|oneOf)\/\d+\//.test(error.schemaPath) || error.keyword === "if") continue;
    const params = error.params as Record<string, unknown>;
    let path = fieldPath(error.instancePath);
    let message = error.message ?? "is invalid";
    if (error.keyword === "required") {
      path = join(path, params.missingProperty);
      message = "is required";
    } else if (error.keyword === "additionalProperties") {
      path = join(path, params.additionalProperty);
      message = "is not a known field";
    } else if (error.keyword === "anyOf" || error.keyword === "oneOf") {
      message = anyOfMessage(error.schema);
    }
    const prefix = part === "querystring" ? "query" : part === "params" ? "path" : "";
    const field = prefix ? (path ? `${prefix}.${path}` : prefix) : path || "body";
    const key = `${field}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push({ field, message });
  }
  return problems;
}
