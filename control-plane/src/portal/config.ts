import { readFileSync } from "node:fs";
import { z } from "zod";
import { env, Secret } from "../../../lib/src/config.js";
import type { PolicyBundleFiles } from "./pages/admin/policy-bundle.js";

/** Settings of the web portal; part of the control plane's one schema (control-plane/src/config.ts). */
export const portalConfigShape = {
  WARDEN_PORTAL_CLIENT_ID: env
    .text()
    .optional()
    .describe(
      "OIDC client id of the web portal at `WARDEN_OIDC_ISSUER` (a confidential client, authorization code + PKCE); unset: no portal.",
    ),
  WARDEN_PORTAL_CLIENT_SECRET: env.secret("The portal client's secret at the identity provider."),
  WARDEN_PORTAL_CLIENT_SECRET_FILE: env
    .path()
    .optional()
    .describe("File holding the portal client's secret; preferred over `WARDEN_PORTAL_CLIENT_SECRET`."),
  WARDEN_PORTAL_URL: env
    .url()
    .optional()
    .describe(
      "The portal's address as browsers reach it (`<origin>/portal`): its `/callback` is the redirect URI registered at the identity provider. HTTPS, or http on a loopback host (browsers treat those as secure for the `__Host-` cookie).",
    ),
  WARDEN_PORTAL_POLICY_BUNDLE: env
    .path()
    .optional()
    .describe(
      'File of the signed policy bundle the authz-servers load: the admin\'s "Policy in force" page lists its model allow-lists, read when the page is opened. Needs `WARDEN_PORTAL_POLICY_PUBLIC_KEY`; unset: the page shows the revision only.',
    ),
  WARDEN_PORTAL_POLICY_PUBLIC_KEY: env
    .path()
    .optional()
    .describe(
      "PEM file of the key policy bundles are signed with (authz-server's `WARDEN_POLICY_PUBLIC_KEY`): a bundle that does not verify with it is refused and its lists are not shown.",
    ),
  WARDEN_PORTAL_SESSION_TTL_S: env
    .positiveInt(8 * 3600)
    .describe("How long a portal sign-in lasts at most (the identity provider's session may end it sooner)."),
};

type PortalSettings = z.infer<z.ZodObject<typeof portalConfigShape>>;

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

export function portalConfigProblems(config: PortalSettings): string[] {
  if (!config.WARDEN_PORTAL_CLIENT_ID) return [];
  const problems: string[] = [];
  const bundle = config.WARDEN_PORTAL_POLICY_BUNDLE;
  if (bundle && !config.WARDEN_PORTAL_POLICY_PUBLIC_KEY)
    problems.push(
      "WARDEN_PORTAL_POLICY_BUNDLE needs WARDEN_PORTAL_POLICY_PUBLIC_KEY (model lists are shown only from a verified bundle)",
    );
  if (!bundle && config.WARDEN_PORTAL_POLICY_PUBLIC_KEY)
    problems.push("WARDEN_PORTAL_POLICY_PUBLIC_KEY is set but WARDEN_PORTAL_POLICY_BUNDLE is not");
  if (bundle && /^[a-z][a-z0-9+.-]*:\/\//i.test(bundle))
    problems.push(
      "WARDEN_PORTAL_POLICY_BUNDLE: must be a file path (the bundle file the authz-servers load)",
    );
  if (!config.WARDEN_PORTAL_CLIENT_SECRET && !config.WARDEN_PORTAL_CLIENT_SECRET_FILE)
    problems.push(
      "WARDEN_PORTAL_CLIENT_ID needs WARDEN_PORTAL_CLIENT_SECRET_FILE or WARDEN_PORTAL_CLIENT_SECRET",
    );
  if (!config.WARDEN_PORTAL_URL) problems.push("WARDEN_PORTAL_CLIENT_ID needs WARDEN_PORTAL_URL");
  else {
    const url = new URL(config.WARDEN_PORTAL_URL);
    if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK.has(url.hostname)))
      problems.push("WARDEN_PORTAL_URL: must be https (or http on localhost/127.0.0.1/[::1])");
    if (url.pathname.replace(/\/$/, "") !== "/portal")
      problems.push("WARDEN_PORTAL_URL: must end in /portal (where the control plane serves it)");
  }
  return problems;
}

export interface PortalSettingsResolved {
  clientId: string;
  clientSecret: Secret;
  /** Origin of the portal, for the Origin check of state changes. */
  origin: string;
  redirectUri: string;
  sessionTtlSeconds: number;
  /** The signed policy bundle whose model lists the admin's policy page shows; null: not given. */
  policyBundle: PolicyBundleFiles | null;
}

/** The portal's settings, the secret read from its file; null when the portal is off. */
export function resolvePortalSettings(config: PortalSettings): PortalSettingsResolved | null {
  if (!config.WARDEN_PORTAL_CLIENT_ID || !config.WARDEN_PORTAL_URL) return null;
  const secret = config.WARDEN_PORTAL_CLIENT_SECRET_FILE
    ? new Secret(readFileSync(config.WARDEN_PORTAL_CLIENT_SECRET_FILE, "utf8").trim())
    : config.WARDEN_PORTAL_CLIENT_SECRET!;
  const url = new URL(config.WARDEN_PORTAL_URL);
  return {
    clientId: config.WARDEN_PORTAL_CLIENT_ID,
    clientSecret: secret,
    origin: url.origin,
    redirectUri: `${url.origin}/portal/callback`,
    sessionTtlSeconds: config.WARDEN_PORTAL_SESSION_TTL_S,
    policyBundle:
      config.WARDEN_PORTAL_POLICY_BUNDLE && config.WARDEN_PORTAL_POLICY_PUBLIC_KEY
        ? {
            bundlePath: config.WARDEN_PORTAL_POLICY_BUNDLE,
            publicKeyPath: config.WARDEN_PORTAL_POLICY_PUBLIC_KEY,
          }
        : null,
  };
}
