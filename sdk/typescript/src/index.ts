export { Warden, errorOf, type WardenOptions } from "./client.js";
export { SvidSource, type SvidSourceOptions } from "./svid-source.js";
export { checkSpiffeId, MtlsPools, ServerIdentityError } from "./tls.js";
export { httpsFetch, type FetchLike } from "./https-fetch.js";
export { DELEGATION_HEADER, DEFAULT_SIDECAR_URL } from "./config.js";
export { DECISION_ID_HEADER, errorFromHttp, retryAfterSeconds, toWardenError } from "./denial.js";
export { DEFAULT_RETRY_POLICY, retryDelayMs, type RetryPolicy } from "./retry.js";
export { familyOf, reasonsTable, type FamilyName } from "./reasons.js";
export {
  AgentStatusError,
  ApprovalRequiredError,
  BudgetError,
  DelegationError,
  IdentityError,
  KyaError,
  PolicyDeniedError,
  RateLimitedError,
  RequestError,
  UnavailableError,
  WardenError,
  type WardenErrorFields,
} from "./errors.js";
export {
  registerAgent,
  TokenService,
  type AccessToken,
  type AgentRegistration,
  type RegisteredAgent,
  type TokenServiceOptions,
} from "./iam.js";
