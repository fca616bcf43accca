import { Validator } from "@seriousme/openapi-schema-validator";
import { OPENAPI_PATH } from "../files.js";
import { loadApiDocument, ROLES } from "./openapi.js";
import { compileRequestValidator, compileResponseValidator, fieldProblems } from "./validation.js";

describe("the OpenAPI document", () => {
  const api = loadApiDocument(OPENAPI_PATH);

  test("is a valid OpenAPI 3.1 document (official JSON schema)", async () => {
    const validator = new Validator();
    const result = await validator.validate(OPENAPI_PATH);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  test("every operation has a unique id and names only known roles", () => {
    const ids = api.operations.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const op of api.operations) {
      for (const role of op.roles ?? []) expect(ROLES).toContain(role);
    }
    expect(
      api.operations
        .filter((o) => o.roles === null)
        .map((o) => o.operationId)
        .sort(),
    ).toEqual([
      "completeConnection",
      "getHealth",
      "getJwks",
      "getOAuthAuthorizationServerMetadata",
      "getOpenIdConfiguration",
      "getReadiness",
    ]);
  });

  test("every request and response schema compiles, and request bodies refuse unknown fields", () => {
    for (const op of api.operations) {
      if (op.body) {
        expect(op.body.additionalProperties).toBe(false);
        expect(() => compileRequestValidator(op.body!, "body")).not.toThrow();
      }
      if (op.querystring) compileRequestValidator(op.querystring, "querystring");
      for (const schema of op.responses.values()) if (schema) compileResponseValidator(schema);
    }
  });
});

describe("validation messages", () => {
  const api = loadApiDocument(OPENAPI_PATH);
  const createAgent = api.operations.find((o) => o.operationId === "createAgent")!;
  const validate = compileRequestValidator(createAgent.body!, "body");

  test("name each field the way the client wrote it", () => {
    expect(
      validate({
        name: "ok",
        tenant: "acme",
        team: "t",
        type: "t",
        environment: "e",
        capabilities: ["fine", "Not Fine"],
        extra: 1,
      }),
    ).toBe(false);
    expect(fieldProblems(validate.errors)).toEqual([
      { field: "extra", message: "is not a known field" },
      { field: "capabilities[1]", message: 'must match pattern "^[a-z0-9][a-z0-9_.:/-]{0,127}$"' },
    ]);
  });

  test("do not coerce body types: a number where a string belongs is an error", () => {
    expect(validate({ name: "ok", tenant: 5, team: "t", type: "t", environment: "e" })).toBe(false);
    expect(fieldProblems(validate.errors)).toEqual([{ field: "tenant", message: "must be string" }]);
  });

  test("query strings are coerced and prefixed with query.", () => {
    const listAgents = api.operations.find((o) => o.operationId === "listAgents")!;
    const query = compileRequestValidator(listAgents.querystring!, "querystring");
    const good: Record<string, unknown> = { limit: "7" };
    expect(query(good)).toBe(true);
    expect(good.limit).toBe(7);
    expect(query({ limit: "0" })).toBe(false);
    expect(fieldProblems(query.errors, "querystring")).toEqual([
      { field: "query.limit", message: "must be >= 1" },
    ]);
  });
});
