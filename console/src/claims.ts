// What the standalone page reads from the management token: the caller's role, its tenant, and
// for an advisor the tenants it advises. The token is only decoded here, never verified: the API
// verifies it on every request, and these claims only choose what to show.

export interface TokenClaims {
  sub: string | undefined;
  role: string | undefined;
  tenant: string | undefined;
  advises: string[];
  /** Expiry, in seconds since the epoch, when the token has one. */
  exp: number | undefined;
}

/**
 * A list claim as it may arrive: a JSON array, API Gateway's bracketed space-separated string
 * (`"[acme globex]"`), a comma-separated string, or one value.
 */
export function parseListClaim(value: unknown): string[] {
  let items: unknown[];
  if (Array.isArray(value)) {
    items = value;
  } else if (typeof value === "string") {
    let text = value.trim();
    if (text.startsWith("[") && text.endsWith("]")) {
      // A JSON array written as a string, or API Gateway's `[a b]`.
      try {
        const parsed: unknown = JSON.parse(text);
        if (Array.isArray(parsed)) {
          return parseListClaim(parsed);
        }
      } catch {
        // not JSON: API Gateway's form
      }
      text = text.slice(1, -1);
    }
    items = text.split(/[\s,]+/);
  } else {
    return [];
  }
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== "string") continue;
    const name = item.trim();
    if (name !== "" && !out.includes(name)) out.push(name);
  }
  return out;
}

function base64UrlDecode(text: string): string {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** Decodes a JWT's claims (without verifying it); throws a sentence when it is not a JWT. */
export function decodeClaims(token: string): TokenClaims {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[1] === undefined || parts[1] === "") {
    throw new Error("The management token is not a JWT (three dot-separated parts).");
  }
  let payload: unknown;
  try {
    payload = JSON.parse(base64UrlDecode(parts[1]));
  } catch {
    throw new Error("The management token's claims cannot be read.");
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new Error("The management token's claims are not a JSON object.");
  }
  const claims = payload as Record<string, unknown>;
  const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);
  const exp = typeof claims["exp"] === "number" ? claims["exp"] : typeof claims["exp"] === "string" ? Number(claims["exp"]) : undefined;
  return {
    sub: text(claims["sub"]),
    role: text(claims["role"]),
    tenant: text(claims["tenant"]),
    advises: parseListClaim(claims["advises"]),
    exp: exp !== undefined && Number.isFinite(exp) ? exp : undefined,
  };
}

/** The tenants this caller may manage, in the order to offer them (empty: none). */
export function manageableTenants(claims: TokenClaims): string[] {
  if (claims.role === "admin") {
    return claims.tenant === undefined ? [] : [claims.tenant];
  }
  if (claims.role === "advisor") {
    return claims.advises;
  }
  return [];
}

/** Reads `token` from a URL fragment such as `#token=…` (other parameters are left alone). */
export function tokenFromFragment(hash: string): { token: string | undefined; rest: string } {
  const params = new URLSearchParams(hash.startsWith("#") ? hash.slice(1) : hash);
  const token = params.get("token") ?? undefined;
  params.delete("token");
  const rest = params.toString();
  return { token: token === "" ? undefined : token, rest: rest === "" ? "" : `#${rest}` };
}
