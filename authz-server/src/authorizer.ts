import type { CheckRequest, ICheckResponse } from "../../lib/src/envoy/services.js";
import {
  DELEGATION_HEADER,
  decisionMessage,
  deniedResponse,
  okResponse,
  type Decision,
} from "./check-response.js";
import type { HandOffFacts } from "../../lib/src/handoff/contract.js";
import { errorDialectOf, type ErrorDialect } from "../../lib/src/llm/error-shapes.js";
import { destinationOf, llmFactsOf, mcpFactsOf } from "./destination.js";
import { NO_KYA, sourceIdentity, type AgentDirectory } from "./identity/source.js";
import type { PeerAttributes, PeerIdentity } from "./identity/peer-certificate.js";
import { inboundHeadersOf, withChallenge, type InboundHeaders } from "./identity/inbound-identity.js";
import { engineDenial } from "./policy/decision.js";
import { buildPolicyInput, NO_DELEGATION, type DelegationFacts, type PolicyInput } from "./policy-input.js";
import type { BodyLimits } from "./body-limits.js";
import { BadRequestError, parseJsonBody, requestFacts } from "./request-facts.js";

/**
 * One CheckRequest → one decision, read top to bottom: facts → identity → policy input → policy →
 * Envoy response. Pure apart from the injected clock and id source, so it is tested without servers.
 */
export interface Policy {
  revision: string;
  evaluate(input: unknown): Decision;
}

/** Verifies a delegation token against the calling identity; crypto lives behind this seam. */
export interface DelegationVerifier {
  /** `peerCertificate`: the URL-encoded PEM Envoy forwards, for certificate-bound access tokens. */
  verify(
    token: string,
    callerSpiffeId: string | null,
    nowNs: number,
    peerCertificate?: string,
  ): DelegationFacts;
}

export const REFUSE_ALL_DELEGATIONS: DelegationVerifier = {
  verify: () => ({
    ...NO_DELEGATION,
    present: true,
    // A stable code (policies: delegation_not_accepted), like the verifier's (lib/src/tokens/verify.ts).
    error: "not_accepted",
  }),
};

export interface AuthorizerDeps {
  policy: () => Policy | undefined;
  directory: AgentDirectory;
  delegations: DelegationVerifier;
  nowNs: () => number;
  newDecisionId: () => string;
  /** JSON body limits (defaults: DEFAULT_BODY_LIMITS). */
  bodyLimits?: BodyLimits;
  /** Dry-run: evaluate and record, but allow (rolling out a new policy safely). */
  dryRun?: boolean;
  /**
   * With mTLS (SPIRE): verifies the peer certificate; a refusal (401, or 503 without a trust bundle)
   * is final, before and whatever the policy says. Without it (plaintext on loopback, dev and tests)
   * the principal alone names the caller.
   */
  identify?: (peer: PeerAttributes, nowNs: number, headers: InboundHeaders) => PeerIdentity;
}

export interface DecisionRecord {
  decision_id: string;
  policy_revision: string | null;
  allow: boolean;
  status: number;
  reason: string;
  dry_run: boolean;
  agent_spiffe_id: string | null;
  service: string;
  eval_ns: number;
  input: PolicyInput | null;
}

export interface Outcome {
  response: ICheckResponse;
  record: DecisionRecord;
}

function denial(
  decisionId: string,
  status: number,
  reason: string,
  message: string,
  revision: string | null,
  input: PolicyInput | null,
  dialect: ErrorDialect,
): Outcome {
  return {
    response: deniedResponse(status, reason, message, decisionId, dialect),
    record: {
      decision_id: decisionId,
      policy_revision: revision,
      allow: false,
      status,
      reason,
      dry_run: false,
      agent_spiffe_id: input?.source.spiffe_id ?? null,
      service: input?.destination.service ?? "",
      eval_ns: 0,
      input,
    },
  };
}

export function authorize(check: CheckRequest, deps: AuthorizerDeps): Outcome {
  const decisionId = deps.newDecisionId();
  const policy = deps.policy();
  const revision = policy?.revision ?? null;
  // The route (set by Envoy, never by the agent) decides the shape of a denial's body.
  const route = check.attributes?.contextExtensions;
  const dialect = errorDialectOf(route?.service, route?.kind);

  let input: PolicyInput;
  let rawDelegation: string | undefined;
  let credentialQuery: string[];
  try {
    const facts = requestFacts(check);
    credentialQuery = facts.credentialQuery;
    const body = parseJsonBody(facts, deps.bodyLimits);
    const nowNs = deps.nowNs();
    // Identity (an MCP inbound sidecar also reads Authorization and XFCC: identity/inbound-identity.ts).
    const identity: PeerIdentity = deps.identify
      ? deps.identify(facts.peer, nowNs, inboundHeadersOf(check))
      : { ok: true, source: sourceIdentity(facts.peer.principal) };
    if (!identity.ok)
      return withChallenge(
        denial(decisionId, identity.status, identity.reason, identity.message, revision, null, dialect),
        identity.challenge,
      );
    const source = identity.source;
    const known = source.spiffe_id ? deps.directory.lookup(source.spiffe_id) : undefined;
    rawDelegation = facts.headers[DELEGATION_HEADER];
    const delegation = rawDelegation
      ? deps.delegations.verify(rawDelegation, source.spiffe_id, nowNs, facts.peer.certificate)
      : NO_DELEGATION;
    if (rawDelegation) facts.headers[DELEGATION_HEADER] = "[REDACTED]";
    const destination = destinationOf(facts);
    input = buildPolicyInput({
      nowNs,
      facts,
      body,
      source,
      agent: known?.agent ?? null,
      kya: known?.kya ?? NO_KYA,
      delegation,
      destination,
      llm: llmFactsOf(facts, destination, body),
      mcp: mcpFactsOf(destination, body),
    });
  } catch (error) {
    if (error instanceof BadRequestError)
      return denial(decisionId, error.status, error.code, error.message, revision, null, dialect);
    throw error;
  }

  if (!policy) {
    return denial(
      decisionId,
      503,
      "policy_not_loaded",
      "no policy is loaded; refusing all requests",
      revision,
      input,
      dialect,
    );
  }

  const started = process.hrtime.bigint();
  let decision: Decision;
  try {
    decision = policy.evaluate(input);
  } catch (error) {
    // The one place an evaluation failure is caught: it becomes a decision like an invalid answer,
    // so the record, dry-run and the denial body treat both alike.
    decision = engineDenial(500, "policy_evaluation_failed", String(error).slice(0, 200), revision);
  }
  const evalNs = Number(process.hrtime.bigint() - started);

  const allow = decision.allow || deps.dryRun === true;
  const record: DecisionRecord = {
    decision_id: decisionId,
    policy_revision: revision,
    allow: decision.allow,
    status: decision.allow ? 200 : decision.status,
    reason: decision.reason,
    dry_run: deps.dryRun === true,
    agent_spiffe_id: input.source.spiffe_id,
    service: input.destination.service,
    eval_ns: evalNs,
    input,
  };
  if (!allow) {
    return {
      response: deniedResponse(
        decision.status,
        decision.reason,
        decisionMessage(decision),
        decisionId,
        dialect,
      ),
      record,
    };
  }

  const handOff: HandOffFacts = {
    decisionId,
    policyRevision: revision ?? "",
    agentSpiffeId: input.source.spiffe_id,
    agentId: input.agent?.id ?? null,
    tenant: input.agent?.tenant ?? input.delegation.user?.tenant ?? null,
    userId: input.delegation.valid ? (input.delegation.user?.id ?? null) : null,
    delegationId: input.delegation.valid ? input.delegation.id : null,
    scopes: input.delegation.valid ? input.delegation.scopes : [],
    service: input.destination.service,
    kind: input.destination.kind,
    policyHeaders: decision.allow ? Object.keys(decision.headers) : [],
  };
  return {
    response: okResponse(
      decision.allow ? decision : { ...decision, headers: {} },
      handOff,
      Object.keys(input.request.headers),
      credentialQuery,
    ),
    record,
  };
}
