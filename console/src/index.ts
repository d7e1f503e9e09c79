// The console as a library: importing it defines <clavis-credentials>.
export { ClavisCredentials, expiryLocked } from "./clavis-credentials.js";
export { decodeClaims, manageableTenants, parseListClaim, tokenFromFragment } from "./claims.js";
export type { TokenClaims } from "./claims.js";
