import { OPENAPI_PATH } from "../../files.js";
import { loadApiDocument } from "../../http/openapi.js";
import { compileRequestValidator, fieldProblems } from "../../http/validation.js";
import {
  EVIDENCE_FIELDS,
  REGISTRATION_FIELDS,
  evidenceBody,
  evidenceMapping,
  registrationBody,
  registrationMapping,
  registrationValues,
} from "../pages/creator/forms.js";
import { formErrorsFrom, listOf, type PostedForm } from "./form.js";
import {
  APPROVE_FIELDS,
  REJECT_FIELDS,
  approveBody,
  approveMapping,
  rejectBody,
} from "../pages/reviewer/forms.js";

// The forms are checked by the API's own request schemas, exactly as the server checks them.
const api = loadApiDocument(OPENAPI_PATH);
function apiCheck(operationId: string) {
  const operation = api.operations.find((o) => o.operationId === operationId)!;
  const validate = compileRequestValidator(operation.body!, "body");
  return (body: unknown) => {
    const copy = structuredClone(body);
    return validate(copy) ? [] : fieldProblems(validate.errors);
  };
}
const checkAgent = apiCheck("createAgent");
const checkMcpServer = apiCheck("createMcpServer");
const checkEvidence = apiCheck("submitAttestation");
const checkApproval = apiCheck("approveAttestation");
const checkRejection = apiCheck("rejectAttestation");

const DIGEST = `sha256:${"ab".repeat(32)}`;
const AGENT_ID = "6f1c1d5e-2b1a-4c3e-9a7b-0d2e4f6a8b9c";

describe("registering an agent or MCP server", () => {
  const filled: PostedForm = {
    name: "billing-bot",
    team: "payments",
    type: "assistant",
    environment: "prod",
    capabilities: "llm:chat\r\ngithub:repo.read, ",
  };

  test("a filled-in form becomes a body the API accepts, in the person's tenant", () => {
    const body = registrationBody("agent", filled, "acme");
    expect(body).toEqual({
      name: "billing-bot",
      tenant: "acme",
      team: "payments",
      type: "assistant",
      environment: "prod",
      capabilities: ["llm:chat", "github:repo.read"],
    });
    expect(checkAgent(body)).toEqual([]);
  });

  test("the tenant field is used only when the person's token names no tenant", () => {
    expect(registrationBody("agent", { ...filled, tenant: "other" }, "acme").tenant).toBe("acme");
    expect(registrationBody("agent", { ...filled, tenant: " other " }, null).tenant).toBe("other");
  });

  test("an MCP server carries its external services and, when given, its resource URI", () => {
    const form = { ...filled, external_services: "github\ngoogle-drive", resource_uri: " " };
    const body = registrationBody("mcp_server", form, "acme");
    expect(body.external_services).toEqual(["github", "google-drive"]);
    expect(body).not.toHaveProperty("resource_uri");
    expect(checkMcpServer(body)).toEqual([]);
    const withUri = registrationBody(
      "mcp_server",
      { ...form, resource_uri: "https://mcp.example.com/mcp" },
      "a",
    );
    expect(checkMcpServer(withUri)).toEqual([]);
  });

  test("each wrong input gets its own error, worded for a person, naming the bad list item", () => {
    const form: PostedForm = { ...filled, name: "Billing Bot", team: "", capabilities: "llm:chat\nBad Cap" };
    const problems = checkAgent(registrationBody("agent", form, "acme"));
    const { errors, general } = formErrorsFrom(
      { message: "invalid request", details: problems },
      REGISTRATION_FIELDS.agent,
      registrationMapping(form),
    );
    expect(general).toEqual([]);
    expect(errors.name).toEqual([
      "must look like this: lower-case letters, digits, ., _ and -, at most 63 characters",
    ]);
    expect(errors.team?.[0]).toMatch(/^must look like this: lower-case letters/);
    expect(errors.capabilities).toEqual([
      '"Bad Cap" must look like this: one per line, e.g. llm:chat or github:repo.read',
    ]);
    expect(Object.keys(errors).sort()).toEqual(["capabilities", "name", "team"]);
  });

  test("a name already taken (the SPIFFE ID conflict) is an error without a field, shown as the API says", () => {
    const { errors, general } = formErrorsFrom(
      { message: "an entry with this SPIFFE ID is already registered" },
      REGISTRATION_FIELDS.agent,
    );
    expect(errors).toEqual({});
    expect(general).toEqual(["an entry with this SPIFFE ID is already registered"]);
  });

  test("the values typed are kept to render back, and nothing else", () => {
    expect(registrationValues("agent", { ...filled, _csrf: "t", tenant: "x" })).toEqual({
      ...filled,
      tenant: "x",
    });
  });
});

describe("submitting KYA evidence", () => {
  const filled: PostedForm = {
    agent_id: AGENT_ID,
    image_digest: DIGEST,
    code_hash: "",
    endpoints: "https://api.openai.com/v1\nhttps://api.github.com",
    checklist: ["no_embedded_credentials", "audit_logging"],
    notes: "  ",
  };

  test("a filled-in form becomes a body the API accepts, every checklist item answered", () => {
    const body = evidenceBody(filled);
    expect(body).toEqual({
      agent_id: AGENT_ID,
      evidence: {
        image_digest: DIGEST,
        endpoints: ["https://api.openai.com/v1", "https://api.github.com"],
        security_checklist: {
          no_embedded_credentials: true,
          dependencies_scanned: false,
          least_privilege_scopes: false,
          audit_logging: true,
          data_retention_policy: false,
        },
      },
    });
    expect(checkEvidence(body)).toEqual([]);
  });

  test("one ticked box arrives as a string, not a list, and still counts", () => {
    const body = evidenceBody({ ...filled, checklist: "dependencies_scanned" }) as {
      evidence: { security_checklist: Record<string, boolean> };
    };
    expect(body.evidence.security_checklist.dependencies_scanned).toBe(true);
    expect(body.evidence.security_checklist.no_embedded_credentials).toBe(false);
  });

  test("neither digest nor hash, a bad endpoint and no agent chosen: an error on each input", () => {
    const form: PostedForm = { ...filled, agent_id: "", image_digest: "", endpoints: "not a url" };
    const { errors, general } = formErrorsFrom(
      { message: "invalid request", details: checkEvidence(evidenceBody(form)) },
      EVIDENCE_FIELDS,
      evidenceMapping(form),
    );
    expect(general).toEqual([]);
    expect(errors.agent_id).toEqual(["is not one of the choices"]);
    expect(errors.image_digest).toEqual(["fill in at least one of: Image digest, Code hash"]);
    expect(errors.endpoints).toEqual(['"not a url" must be a full URL (https://…)']);
  });

  test("a malformed digest is explained by its format", () => {
    const form = { ...filled, image_digest: "sha256:XYZ" };
    const { errors } = formErrorsFrom(
      { message: "invalid request", details: checkEvidence(evidenceBody(form)) },
      EVIDENCE_FIELDS,
      evidenceMapping(form),
    );
    expect(errors.image_digest).toEqual([
      "must look like this: sha256: followed by 64 lower-case hex digits; give this or the code hash",
    ]);
  });
});

describe("a reviewer's decision", () => {
  test("approving at a level with verified capabilities is a body the API accepts", () => {
    const body = approveBody({
      level: "2",
      verified_capabilities: ["llm:chat"],
      valid_days: "30",
      notes: "ok",
    });
    expect(body).toEqual({ level: 2, verified_capabilities: ["llm:chat"], valid_days: 30, notes: "ok" });
    expect(checkApproval(body)).toEqual([]);
  });

  test("approving with nothing verified is allowed (an empty list), but a level is required", () => {
    const body = approveBody({ valid_days: "" });
    expect(body).toEqual({ verified_capabilities: [] });
    const { errors } = formErrorsFrom(
      { message: "invalid request", details: checkApproval(body) },
      APPROVE_FIELDS,
      approveMapping({}),
    );
    expect(errors).toEqual({ level: ["is required"] });
  });

  test("a level or lifetime that is not a number is reported by the API's rule, not lost", () => {
    const body = approveBody({ level: "4", valid_days: "ten" });
    const { errors } = formErrorsFrom(
      { message: "invalid request", details: checkApproval(body) },
      APPROVE_FIELDS,
      approveMapping({}),
    );
    expect(errors.level).toEqual(["must be <= 3"]);
    expect(errors.valid_days).toEqual(["must be integer"]);
  });

  test("a capability that was not declared is named on the capabilities input", () => {
    const form = { level: "1", verified_capabilities: ["llm:chat", "drive:write"] };
    const { errors } = formErrorsFrom(
      {
        message: "verified capabilities must be declared capabilities",
        details: [{ field: "verified_capabilities[1]", message: '"drive:write" was not declared' }],
      },
      APPROVE_FIELDS,
      approveMapping(form),
    );
    expect(errors.verified_capabilities).toEqual(['"drive:write" was not declared']);
  });

  test("rejecting needs a reason: blanks are none", () => {
    expect(checkRejection(rejectBody({ reason: "image digest does not match the registry" }))).toEqual([]);
    const { errors } = formErrorsFrom(
      { message: "invalid request", details: checkRejection(rejectBody({ reason: "   " })) },
      REJECT_FIELDS,
    );
    expect(errors).toEqual({ reason: ["is required"] });
  });
});

test("lists split on lines and commas, blanks dropped", () => {
  expect(listOf(" a ,\n\nb\r\n,c ")).toEqual(["a", "b", "c"]);
  expect(listOf("   ")).toEqual([]);
});
