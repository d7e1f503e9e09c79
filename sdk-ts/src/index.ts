// @clavis/sdk: a typed client of Clavis's management API and a token source for integrations.

export {
  ClavisClient,
  TenantClient,
  managementRoutes,
  type AuditEvent,
  type AuditListOptions,
  type AuditPage,
  type ChangeOptions,
  type ClavisClientOptions,
  type Credential,
  type CredentialPage,
  type CredentialStatus,
  type CredentialUpdate,
  type CredentialWithETag,
  type IfMatch,
  type IssueOptions,
  type IssuedSecret,
  type ListOptions,
  type ManagementOperation,
  type NewCredential,
  type Policy,
  type PolicyChangeOptions,
  type PolicyDocument,
  type PolicyWithETag,
  type RevokeOptions,
  type RotateOptions,
  type ScopeDescription,
  type TokenProvider,
} from "./management.js";
export { AccessToken, TokenSource, type TokenResponse, type TokenSourceOptions } from "./token.js";
export {
  ClavisError,
  ClavisSdkError,
  ConfigError,
  NetworkError,
  OAuthError,
  UnexpectedResponseError,
  type OAuthErrorBody,
  type Problem,
  type ProblemExtras,
  type ReceivedOAuthError,
} from "./errors.js";
export { defaultRetryPolicy, newIdempotencyKey, retryAfterMs, type Fetch, type RetryPolicy, type TransportOptions } from "./transport.js";
export type { components, operations, paths } from "./schema.js";
