// The standalone page at /console/: takes the management token from the URL fragment
// (`#token=…`, which browsers never send to a server), removes it from the address bar, reads
// the tenant from the token's claims (a picker for advisors) and mounts <clavis-credentials>
// against this origin. The token stays in this module's memory only.

import "./standalone.css";
import "./clavis-credentials.js";
import type { ClavisCredentials } from "./clavis-credentials.js";
import { decodeClaims, manageableTenants, tokenFromFragment } from "./claims.js";
import type { TokenClaims } from "./claims.js";

let token: string | undefined;

const session = document.getElementById("session")!;
const mount = document.getElementById("mount")!;

function message(...lines: (string | Node)[]): void {
  mount.replaceChildren();
  session.replaceChildren();
  const box = document.createElement("div");
  box.className = "message";
  box.setAttribute("role", "alert");
  for (const line of lines) {
    const p = document.createElement("p");
    p.append(line);
    box.append(p);
  }
  mount.append(box);
}

function code(text: string): HTMLElement {
  const element = document.createElement("code");
  element.textContent = text;
  return element;
}

function takeTokenFromFragment(): void {
  const { token: fromFragment, rest } = tokenFromFragment(location.hash);
  if (fromFragment !== undefined) {
    token = fromFragment;
    // Out of the address bar and the history entry, so it is not left in the URL.
    history.replaceState(history.state, "", `${location.pathname}${location.search}${rest}`);
  }
}

function start(): void {
  takeTokenFromFragment();
  if (token === undefined) {
    const example = document.createElement("span");
    example.append("Open this page with your management token in the address’s fragment: ", code(`${location.origin}${location.pathname}#token=…`), ". ");
    example.append("`make run` prints such a link for tenant demo.");
    message("No management token.", example);
    return;
  }
  let claims: TokenClaims;
  try {
    claims = decodeClaims(token);
  } catch (error) {
    message((error as Error).message, "Open the page again with a valid token.");
    return;
  }
  if (claims.exp !== undefined && claims.exp * 1000 <= Date.now()) {
    message("The management token has expired.", "Open the page again with a fresh token (`make run` prints one).");
    return;
  }
  const tenants = manageableTenants(claims);
  if (tenants.length === 0) {
    message(
      claims.role === "admin" || claims.role === "advisor"
        ? "This token names no tenant to manage."
        : `This token’s role (${claims.role ?? "none"}) cannot manage API credentials: only business admins and advisors can.`,
    );
    return;
  }
  const element = document.createElement("clavis-credentials") as ClavisCredentials;
  element.setAttribute("api-url", location.origin);
  element.getToken = () => (token === undefined ? Promise.reject(new Error("No management token.")) : Promise.resolve(token));

  session.replaceChildren();
  const who = document.createElement("p");
  who.className = "who";
  who.textContent = `Signed in as ${claims.sub ?? "unknown"} (${claims.role === "advisor" ? "advisor" : "admin"}).`;
  session.append(who);
  if (tenants.length > 1) {
    const label = document.createElement("label");
    label.append("Tenant");
    const select = document.createElement("select");
    for (const tenant of tenants) {
      select.append(new Option(tenant, tenant));
    }
    select.addEventListener("change", () => element.setAttribute("tenant", select.value));
    label.append(select);
    session.append(label);
  }
  element.setAttribute("tenant", tenants[0]!);
  mount.replaceChildren(element);
}

// A new link pasted into the address bar (`#token=…`) takes effect without a reload.
window.addEventListener("hashchange", () => {
  if (tokenFromFragment(location.hash).token !== undefined) start();
});

start();
