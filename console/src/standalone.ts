// The standalone page at /console/: takes the management token from the URL fragment
// (`#token=…`, which browsers never send to a server), removes it from the address bar, reads
// the tenant from the token's claims (a picker for advisors) and mounts <clavis-credentials>
// against this origin. The token stays in this module's memory only.
//
// One session per page: once a token works here, a later `#token=` (a link someone else sent,
// opened in this tab) is removed from the address bar and ignored, with a notice; the admin
// switches only deliberately (Sign out, then the new link), so a link cannot silently move the
// page into someone else's tenant (login CSRF).

import "./standalone.css";
import "./clavis-credentials.js";
import type { ClavisCredentials } from "./clavis-credentials.js";
import { decodeClaims, manageableTenants, tokenFromFragment } from "./claims.js";
import type { TokenClaims } from "./claims.js";

/** The token of the session this page holds, once it has been shown to work. */
let token: string | undefined;

const notice = document.getElementById("notice")!;
const session = document.getElementById("session")!;
const mount = document.getElementById("mount")!;

function message(...lines: (string | Node)[]): void {
  mount.replaceChildren();
  session.replaceChildren();
  const box = document.createElement("div");
  box.className = "message";
  box.setAttribute("role", "alert");
  box.tabIndex = -1; // focusable by script, e.g. after Sign out, without joining the tab order
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

/** Takes `#token=…` out of the address bar and the history entry, and returns it. */
function takeTokenFromFragment(): string | undefined {
  const { token: fromFragment, rest } = tokenFromFragment(location.hash);
  if (fromFragment !== undefined) {
    history.replaceState(history.state, "", `${location.pathname}${location.search}${rest}`);
  }
  return fromFragment;
}

/** Says that a token offered while a session is open was ignored, and how to switch on purpose. */
function showIgnoredToken(): void {
  const box = document.createElement("div");
  box.className = "message notice";
  box.setAttribute("role", "alert");
  const text = document.createElement("p");
  text.textContent =
    "A different management token was offered in the address and ignored: this page stays in the current session. " +
    "To use the other token, sign out, then open its link again (or open it in a new tab).";
  const signOut = document.createElement("button");
  signOut.type = "button";
  signOut.textContent = "Sign out";
  signOut.addEventListener("click", () => {
    token = undefined;
    notice.replaceChildren();
    start(undefined);
    mount.querySelector<HTMLElement>(".message")?.focus();
  });
  box.append(text, signOut);
  notice.replaceChildren(box);
}

function start(offered: string | undefined): void {
  if (offered === undefined) {
    const example = document.createElement("span");
    example.append("Open this page with your management token in the address’s fragment: ", code(`${location.origin}${location.pathname}#token=…`), ". ");
    example.append("`make run` prints such a link for tenant demo.");
    message("No management token.", example);
    return;
  }
  let claims: TokenClaims;
  try {
    claims = decodeClaims(offered);
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
  token = offered;
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

// A link pasted into the address bar (`#token=…`) takes effect without a reload while the page
// holds no session; once it holds one, a different token is ignored, with a notice.
window.addEventListener("hashchange", () => {
  const offered = takeTokenFromFragment();
  if (offered === undefined || offered === token) return;
  if (token === undefined) {
    notice.replaceChildren();
    start(offered);
  } else {
    showIgnoredToken();
  }
});

start(takeTokenFromFragment());
