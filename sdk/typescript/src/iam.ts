import { hideWhenPrinted } from "../../../lib/src/spiffe/hide-when-printed.js";
import { errorFromHttp } from "./denial.js";
import { httpsFetch, type FetchLike } from "./https-fetch.js";
import { SvidSource } from "./svid-source.js";
import { MtlsPools } from "./tls.js";

/**
 * The agent IAM shapes of the seeds, mapped onto Warden: `registerAgent` is the control plane's
 * REST API (a person's OIDC token: agents are registered by their creators, never by themselves);
 * `getToken`, `exchangeDelegation` and `revokeToken` are the OAuth 2.0 token service on the control
 * plane's mutual-TLS listener, where the agent authenticates with its SVID (no client secret exists)
 * and every access token is bound to that certificate (RFC 8705).
 */
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
export const DELEGATION_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id-jag";

export interface AgentRegistration {
  name: string;
  tenant: string;
  team: string;
  type: string;
  environment: string;
  capabilities: string[];
  [field: string]: unknown;
}

export interface RegisteredAgent {
  id: string;
  spiffe_id: string;
  tenant: string;
  status: string;
  [field: string]: unknown;
}

/** Registers an agent through the control plane's API as the person holding `bearerToken`. */
export async function registerAgent(
  apiUrl: string,
  bearerToken: string,
  registration: AgentRegistration,
  fetchImpl: FetchLike = fetch,
): Promise<RegisteredAgent> {
  const response = await fetchImpl(`${apiUrl.replace(/\/$/, "")}/v1/agents`, {
    method: "POST",
    headers: { authorization: `Bearer ${bearerToken}`, "content-type": "application/json" },
    body: JSON.stringify(registration),
  });
  const text = await response.text();
  if (response.status !== 201) throw errorFromHttp(response.status, response.headers, text);
  return JSON.parse(text) as RegisteredAgent;
}

export interface AccessToken {
  accessToken: string;
  tokenType: string;
  expiresIn: number;
  scopes: string[];
}

export interface TokenServiceOptions {
  /** the token service's mTLS base URL; default WARDEN_TOKEN_SERVICE_URL */
  url?: string;
  /** the control plane's SPIFFE ID; default spiffe://<trust domain>/warden/control-plane */
  controlPlaneSpiffeId?: string;
  /** an SVID source to share; else one is opened (SPIFFE_ENDPOINT_SOCKET, or `workloadEndpoint`) */
  svids?: SvidSource;
  workloadEndpoint?: string;
  /** which of the workload's SVIDs to authenticate with, when it has several */
  spiffeId?: string;
}

interface TokenResponse {
  access_token?: unknown;
  token_type?: unknown;
  expires_in?: unknown;
  scope?: unknown;
}

export class TokenService {
  private readonly fetch: FetchLike;

  private constructor(
    readonly url: string,
    private readonly pools: MtlsPools,
    private readonly release: () => void,
  ) {
    this.fetch = httpsFetch(() => this.pools.current);
  }

  static async connect(options: TokenServiceOptions = {}): Promise<TokenService> {
    const url = options.url ?? process.env.WARDEN_TOKEN_SERVICE_URL;
    if (!url) throw new Error("no token service URL: pass `url` or set WARDEN_TOKEN_SERVICE_URL");
    const owned = options.svids === undefined;
    const svids =
      options.svids ??
      (await SvidSource.open({
        ...(options.workloadEndpoint ? { endpoint: options.workloadEndpoint } : {}),
        ...(options.spiffeId ? { spiffeId: options.spiffeId } : {}),
      }));
    const serverId =
      options.controlPlaneSpiffeId ??
      process.env.WARDEN_CONTROL_PLANE_SPIFFE_ID ??
      `spiffe://${svids.trustDomain}/warden/control-plane`;
    const pools = new MtlsPools(svids.current, serverId);
    const stop = svids.onUpdate((svid) => pools.use(svid));
    return new TokenService(url.replace(/\/$/, ""), pools, () => {
      stop();
      pools.close();
      if (owned) svids.close();
    });
  }

  /** An access token for the agent acting as itself; `scopes` may only narrow its verified capabilities. */
  getToken(scopes?: readonly string[]): Promise<AccessToken> {
    return this.token({
      grant_type: "client_credentials",
      ...(scopes && scopes.length > 0 ? { scope: scopes.join(" ") } : {}),
    });
  }

  /**
   * Exchanges a user's delegation for an access token bound to this agent's certificate; `audience`
   * narrows it to one service, `scopes` to fewer scopes. Use it with `warden.onBehalfOf(token)`.
   */
  exchangeDelegation(
    delegation: string,
    options: { audience?: string; scopes?: readonly string[] } = {},
  ): Promise<AccessToken> {
    return this.token({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: delegation,
      subject_token_type: DELEGATION_TOKEN_TYPE,
      ...(options.audience ? { audience: options.audience } : {}),
      ...(options.scopes && options.scopes.length > 0 ? { scope: options.scopes.join(" ") } : {}),
    });
  }

  /** Revokes an access token this agent was issued (RFC 7009). */
  async revokeToken(token: string): Promise<void> {
    await this.form("/oauth2/revoke", { token });
  }

  /** What the token service says of a token (RFC 7662): `{active: false}` once revoked or expired. */
  async introspect(token: string): Promise<Record<string, unknown>> {
    return (await this.form("/oauth2/introspect", { token })) as Record<string, unknown>;
  }

  close(): void {
    this.release();
  }

  private async token(form: Record<string, string>): Promise<AccessToken> {
    const body = (await this.form("/oauth2/token", form)) as TokenResponse;
    if (typeof body.access_token !== "string") throw new Error("the token service answered without a token");
    const token: AccessToken = {
      accessToken: body.access_token,
      tokenType: typeof body.token_type === "string" ? body.token_type : "Bearer",
      expiresIn: typeof body.expires_in === "number" ? body.expires_in : 0,
      scopes: typeof body.scope === "string" ? body.scope.split(" ").filter(Boolean) : [],
    };
    return hideWhenPrinted(token, "accessToken");
  }

  private async form(path: string, form: Record<string, string>): Promise<unknown> {
    const response = await this.fetch(`${this.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams(form).toString(),
    });
    const text = await response.text();
    if (response.status !== 200) throw errorFromHttp(response.status, response.headers, text);
    return text ? (JSON.parse(text) as unknown) : {};
  }
}
