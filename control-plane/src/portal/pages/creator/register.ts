import { errorSummary, textInput } from "../../forms/fields.js";
import { emptyForm, type FormState } from "../../forms/form.js";
import { html } from "../../html.js";
import { layout, postForm } from "../../layout.js";
import { PORTAL_PREFIX, redirect, type PortalPage, type PortalRequest } from "../../page.js";
import type { RegistryKind } from "../../../registry/model.js";
import { formStateFromApiError } from "../kya/api-errors.js";
import type { ApiEntry } from "../kya/api-types.js";
import { CREATOR_ROLES, creatorPath } from "./paths.js";
import { REGISTRATION_FIELDS, registrationBody, registrationMapping, registrationValues } from "./forms.js";

/** Registering an agent or an MCP server: one form, two kinds (POST /v1/agents, /v1/mcp-servers). */
const KIND: Record<RegistryKind, { title: string; segment: string; api: string }> = {
  agent: { title: "Register an agent", segment: "agents", api: "/v1/agents" },
  mcp_server: { title: "Register an MCP server", segment: "mcp-servers", api: "/v1/mcp-servers" },
};

function registrationPage(req: PortalRequest, kind: RegistryKind, state: FormState) {
  const fields = REGISTRATION_FIELDS[kind];
  // A token limited to a tenant registers there; only a platform operator picks one.
  const shown = fields.filter((field) => field.name !== "tenant" || req.principal.tenant === null);
  const multiline = new Set(["capabilities", "external_services"]);
  return layout(req, {
    title: KIND[kind].title,
    body: html`${errorSummary(state, shown)}
      <p>
        Its SPIFFE ID will be <code>spiffe://…/${kind === "agent" ? "agent" : "mcp"}/&lt;name&gt;</code>; you
        are its owner. Submit KYA evidence once it is registered.
      </p>
      ${postForm(
        req,
        `${PORTAL_PREFIX}/creator/${KIND[kind].segment}`,
        html`${shown.map((field) =>
          textInput(field, state, {
            multiline: multiline.has(field.name),
            required: !multiline.has(field.name) && field.name !== "resource_uri",
          }),
        )}
          <p><button type="submit">Register</button></p>`,
        { label: KIND[kind].title },
      )}`,
  });
}

function registrationPages(kind: RegistryKind): PortalPage[] {
  return [
    {
      method: "GET",
      path: `/creator/${KIND[kind].segment}/new`,
      roles: CREATOR_ROLES,
      handle: async (req) => registrationPage(req, kind, emptyForm()),
    },
    {
      method: "POST",
      path: `/creator/${KIND[kind].segment}`,
      roles: CREATOR_ROLES,
      async handle(req) {
        const values = registrationValues(kind, req.form);
        try {
          const created = await req.api.post<ApiEntry>(
            KIND[kind].api,
            registrationBody(kind, req.form, req.principal.tenant),
          );
          return redirect(creatorPath(created), `Registered ${created.name} (${created.spiffe_id}).`);
        } catch (error) {
          const fields = REGISTRATION_FIELDS[kind];
          const state = formStateFromApiError(error, values, fields, registrationMapping(req.form));
          return registrationPage(req, kind, state);
        }
      },
    },
  ];
}

export const registerPages: readonly PortalPage[] = [
  ...registrationPages("agent"),
  ...registrationPages("mcp_server"),
];
