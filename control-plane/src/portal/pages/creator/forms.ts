import type { RegistryKind } from "../../../registry/model.js";
import {
  keepValues,
  listOf,
  optionalText,
  textOf,
  valuesOf,
  type FieldMapping,
  type FieldSpec,
  type PostedForm,
} from "../../forms/form.js";

/**
 * The creator's two forms, registering an agent or MCP server and submitting KYA evidence, as
 * inputs and as the JSON bodies of `createAgent`/`createMcpServer` and `submitAttestation`.
 */
const SLUG_HINT = "lower-case letters, digits, _ and -, at most 63 characters (e.g. payments-team)";

export const REGISTRATION_FIELDS: Readonly<Record<RegistryKind, readonly FieldSpec[]>> = {
  agent: [
    { name: "name", label: "Name", hint: "lower-case letters, digits, ., _ and -, at most 63 characters" },
    { name: "tenant", label: "Tenant", hint: SLUG_HINT },
    { name: "team", label: "Team", hint: SLUG_HINT },
    { name: "type", label: "Type", hint: SLUG_HINT },
    { name: "environment", label: "Environment", hint: SLUG_HINT },
    {
      name: "capabilities",
      label: "Capabilities",
      hint: "one per line, e.g. llm:chat or github:repo.read",
    },
  ],
  mcp_server: [
    { name: "name", label: "Name", hint: "lower-case letters, digits, ., _ and -, at most 63 characters" },
    { name: "tenant", label: "Tenant", hint: SLUG_HINT },
    { name: "team", label: "Team", hint: SLUG_HINT },
    { name: "type", label: "Type", hint: SLUG_HINT },
    { name: "environment", label: "Environment", hint: SLUG_HINT },
    { name: "capabilities", label: "Capabilities", hint: "one per line, e.g. tools:search" },
    {
      name: "external_services",
      label: "External services",
      hint: "services it connects to, one per line, e.g. github",
    },
    {
      name: "resource_uri",
      label: "Resource URI (optional)",
      hint: "https://mcp.example.com/mcp — the audience of bearer tokens minted for it",
    },
  ],
};

/**
 * The body of the create operation. The tenant comes from the person's token when it is limited to
 * one (the API refuses any other), otherwise from the form.
 */
export function registrationBody(
  kind: RegistryKind,
  form: PostedForm,
  sessionTenant: string | null,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: textOf(form, "name").trim(),
    tenant: sessionTenant ?? textOf(form, "tenant").trim(),
    team: textOf(form, "team").trim(),
    type: textOf(form, "type").trim(),
    environment: textOf(form, "environment").trim(),
    capabilities: listOf(textOf(form, "capabilities")),
  };
  if (kind === "mcp_server") {
    body.external_services = listOf(textOf(form, "external_services"));
    const resourceUri = optionalText(form, "resource_uri");
    if (resourceUri !== undefined) body.resource_uri = resourceUri;
  }
  return body;
}

export function registrationMapping(form: PostedForm): FieldMapping {
  return {
    lists: {
      capabilities: listOf(textOf(form, "capabilities")),
      external_services: listOf(textOf(form, "external_services")),
    },
  };
}

export const registrationValues = (kind: RegistryKind, form: PostedForm) =>
  keepValues(
    form,
    REGISTRATION_FIELDS[kind].map((field) => field.name),
  );

/** The security checklist of the evidence (openapi.yaml `SecurityChecklist`), in the order shown. */
export const SECURITY_CHECKLIST: readonly FieldSpec[] = [
  { name: "no_embedded_credentials", label: "No API keys or tokens in code, image or config" },
  { name: "dependencies_scanned", label: "Dependencies scanned for known vulnerabilities" },
  { name: "least_privilege_scopes", label: "Declared capabilities are the minimum needed" },
  { name: "audit_logging", label: "The workload logs its own actions" },
  { name: "data_retention_policy", label: "A data retention policy applies" },
];

const DIGEST_HINT = "sha256: followed by 64 lower-case hex digits";

export const EVIDENCE_FIELDS: readonly FieldSpec[] = [
  { name: "agent_id", label: "Agent or MCP server" },
  { name: "image_digest", label: "Image digest", hint: `${DIGEST_HINT}; give this or the code hash` },
  { name: "code_hash", label: "Code hash", hint: `${DIGEST_HINT}; give this or the image digest` },
  { name: "endpoints", label: "Endpoints it calls", hint: "full URLs, one per line" },
  { name: "checklist", label: "Security checklist" },
  { name: "notes", label: "Notes for the reviewer (optional)" },
];

/** The body of `submitAttestation`; every checklist item is sent, unticked ones as false. */
export function evidenceBody(form: PostedForm): Record<string, unknown> {
  const ticked = new Set(valuesOf(form, "checklist"));
  const evidence: Record<string, unknown> = {
    endpoints: listOf(textOf(form, "endpoints")),
    security_checklist: Object.fromEntries(SECURITY_CHECKLIST.map(({ name }) => [name, ticked.has(name)])),
  };
  for (const name of ["image_digest", "code_hash", "notes"] as const) {
    const value = optionalText(form, name);
    if (value !== undefined) evidence[name] = value;
  }
  return { agent_id: textOf(form, "agent_id").trim(), evidence };
}

export function evidenceMapping(form: PostedForm): FieldMapping {
  return {
    prefix: "evidence.",
    lists: { endpoints: listOf(textOf(form, "endpoints")) },
    // "evidence needs one of: image_digest, code_hash" belongs next to the first of the two.
    aliases: { evidence: "image_digest", security_checklist: "checklist" },
  };
}

export const evidenceValues = (form: PostedForm) =>
  keepValues(
    form,
    EVIDENCE_FIELDS.map((field) => field.name),
  );
