// The console in a real Chromium against the real local gateway: every flow an admin has, by
// role and accessible name. Needs CLAVIS_LOCAL_BIN (the prebuilt clavis-local binary) and a
// built console (npm run build); fails, saying so, without the binary.

import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { ClavisClient, OAuthError, TokenSource } from "@clavis/sdk";
import { chromium } from "playwright-core";

import { consoleDir, startGateway } from "./gateway.mjs";

const binary = process.env.CLAVIS_LOCAL_BIN ?? "";
const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const shots = join(consoleDir, "test-results", "screenshots");

/** Every text and form value on the page, shadow roots included. */
async function everythingOnPage(page) {
  return page.evaluate(() => {
    const parts = [];
    const walk = (root) => {
      for (const element of root.querySelectorAll("*")) {
        if ("value" in element && typeof element.value === "string") parts.push(element.value);
        if (element.shadowRoot) {
          parts.push(element.shadowRoot.innerHTML);
          walk(element.shadowRoot);
        }
      }
    };
    parts.push(document.documentElement.outerHTML);
    walk(document);
    return parts.join("\n");
  });
}

/** The element that has focus, looking inside shadow roots: its tag and text. */
async function focused(page) {
  return page.evaluate(() => {
    let element = document.activeElement;
    while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement;
    return element ? `${element.tagName.toLowerCase()}:${element.textContent?.trim() ?? ""}` : "";
  });
}

async function noHorizontalScroll(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
}

if (binary === "") {
  it("the console in Chromium against the local gateway", () => {
    assert.fail(
      "CLAVIS_LOCAL_BIN is not set: point it at the prebuilt clavis-local binary (e.g. CLAVIS_LOCAL_BIN=/tmp/clavis-local-snapshot npm test); the browser suite needs the real gateway.",
    );
  });
} else {
  describe("the console in Chromium against the local gateway", { timeout: 600_000 }, () => {
    let gateway;
    let browser;
    let context;
    let page;
    let demo;
    let firstSecret;
    const mutations = [];
    const consoleMessages = [];

    const card = (name) =>
      page.getByRole("listitem").filter({ has: page.getByRole("heading", { name, exact: true, level: 3 }) });
    const dialog = () => page.getByRole("dialog");
    /** The dialog is closed and gone from the element's DOM (with any secret it showed). */
    const dialogClosed = async () => {
      await dialog().waitFor({ state: "detached" });
      await page.waitForFunction(() => !document.querySelector("clavis-credentials")?.shadowRoot?.querySelector("dialog"));
    };

    before(async () => {
      mkdirSync(shots, { recursive: true });
      gateway = await startGateway(binary);
      demo = new ClavisClient({ url: gateway.url, token: gateway.token }).tenant("demo");
      browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ["--no-sandbox"] });
      context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
      await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: gateway.url });
      page = await context.newPage();
      page.on("console", (message) => consoleMessages.push(message.text()));
      page.on("request", (request) => {
        if (request.url().includes("/v1/") && request.method() !== "GET") {
          mutations.push({ method: request.method(), url: request.url(), headers: request.headers() });
        }
      });
    });

    after(async () => {
      await browser?.close();
      await gateway?.stop();
    });

    it("opens with the token in the fragment, then takes it out of the address bar, and shows the empty state", async () => {
      const response = await page.goto(`${gateway.url}/console/#token=${gateway.token}`);
      assert.equal(response?.status(), 200);
      assert.match(response?.headers()["content-security-policy"] ?? "", /default-src 'self'/);
      await page.getByText("No credentials yet.").waitFor();
      assert.equal(page.url(), `${gateway.url}/console/`);
      assert.ok(!page.url().includes(gateway.token));
      await page.getByRole("button", { name: "Create credential" }).waitFor();
    });

    it("creates a credential and shows its secret once, with Copy and both downloads", async () => {
      await page.getByRole("button", { name: "Create credential" }).click();
      const form = dialog();
      await form.getByRole("heading", { name: "Create credential" }).waitFor();
      await form.getByRole("textbox", { name: "Name" }).fill("Inventory sync");
      await form.getByRole("textbox", { name: /Description/ }).fill("Nightly stock import");
      await form.getByRole("textbox", { name: "Scopes" }).fill("products:read, orders:write");
      // A wrong scope is explained before anything is sent.
      await form.getByRole("textbox", { name: "Scopes" }).fill("products:read, Orders");
      await form.getByRole("button", { name: "Create", exact: true }).click();
      await form.getByRole("alert").getByText(/“Orders” is not a scope/).waitFor();
      await form.getByRole("textbox", { name: "Scopes" }).fill("products:read, orders:write");
      await form.getByRole("combobox", { name: "Expiry" }).selectOption({ label: "Expires after a number of days" });
      await form.getByRole("spinbutton", { name: "Number of days from now" }).fill("90");
      await form.getByRole("button", { name: "Create", exact: true }).click();

      const secretField = dialog().getByRole("textbox", { name: "Client secret" });
      await secretField.waitFor();
      firstSecret = await secretField.inputValue();
      assert.match(firstSecret, /^csk_live_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/);
      await dialog().getByText(/cannot be shown again/).waitFor();
      const clientId = await dialog().getByRole("textbox", { name: "Client ID" }).inputValue();
      assert.match(clientId, /^cid_[a-z2-7]{26}$/);
      await page.screenshot({ path: join(shots, "secret-desktop.png") });

      await dialog().getByRole("button", { name: "Copy" }).click();
      await dialog().getByText(/Copied to the clipboard|press Ctrl\+C/).waitFor();
      const copied = await page.evaluate(() => navigator.clipboard.readText().catch(() => null));
      if (copied !== null) assert.equal(copied, firstSecret);

      const [envDownload] = await Promise.all([page.waitForEvent("download"), dialog().getByRole("button", { name: "Download .env" }).click()]);
      assert.equal(envDownload.suggestedFilename(), "inventory-sync.env");
      const env = readFileSync(await envDownload.path(), "utf8");
      assert.equal(env, `CLAVIS_URL=${gateway.url}\nCLAVIS_CLIENT_ID=${clientId}\nCLAVIS_CLIENT_SECRET=${firstSecret}\n`);

      const [jsonDownload] = await Promise.all([page.waitForEvent("download"), dialog().getByRole("button", { name: "Download JSON" }).click()]);
      assert.equal(jsonDownload.suggestedFilename(), "inventory-sync.json");
      assert.deepEqual(JSON.parse(readFileSync(await jsonDownload.path(), "utf8")), {
        url: gateway.url,
        tenant: "demo",
        client_id: clientId,
        client_secret: firstSecret,
      });

      await dialog().getByRole("button", { name: "I have saved the secret" }).click();
      await dialogClosed();
      assert.equal(await focused(page), "button:Create credential", "focus returns to the opener");

      const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + location.href);
      assert.ok(!storage.includes(firstSecret), "the secret is in no storage and not in the URL");
      assert.ok(!(await everythingOnPage(page)).includes(firstSecret), "the secret is gone from the page");
      assert.ok(!consoleMessages.some((text) => text.includes(firstSecret)), "the secret was never logged");

      const listed = await demo.list();
      assert.equal(listed.items.length, 1, "one credential was made");
    });

    it("lists it as Active with its scopes, expiry (UTC on hover), last use and request count", async () => {
      const item = card("Inventory sync");
      await item.getByText("Active", { exact: true }).waitFor();
      await item.getByText("products:read", { exact: true }).waitFor();
      await item.getByText("orders:write", { exact: true }).waitFor();
      await item.getByText("Nightly stock import").waitFor();
      const expiry = item.locator("time").first();
      assert.match((await expiry.getAttribute("title")) ?? "", /^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
      await item.getByText("Last used").waitFor();
      await item.getByText("Requests this month").waitFor();
      await page.screenshot({ path: join(shots, "list-desktop.png"), fullPage: true });
    });

    it("suspends and reactivates", async () => {
      const item = card("Inventory sync");
      await item.getByRole("button", { name: "Suspend" }).click();
      await item.getByText("Suspended", { exact: true }).waitFor();
      await item.getByRole("button", { name: "Reactivate" }).click();
      await item.getByText("Active", { exact: true }).waitFor();
      await page.getByRole("status").getByText(/Reactivated “Inventory sync”/).waitFor();
    });

    it("rotates the secret into a new one-time modal, with an optional grace period; Escape closes it", async () => {
      const item = card("Inventory sync");
      await item.getByRole("button", { name: "Rotate secret" }).click();
      await dialog().getByRole("heading", { name: /Rotate the secret of “Inventory sync”/ }).waitFor();
      await dialog().getByRole("combobox", { name: "Old secret" }).selectOption({ label: "Keep the old secret working for 1 hour" });
      await dialog().getByRole("button", { name: "Rotate secret" }).click();
      const secretField = dialog().getByRole("textbox", { name: "Client secret" });
      await secretField.waitFor();
      const second = await secretField.inputValue();
      assert.match(second, /^csk_live_/);
      assert.notEqual(second, firstSecret);
      await page.keyboard.press("Escape");
      await dialogClosed();
      assert.equal(await focused(page), "button:Rotate secret", "focus returns to the card's Rotate secret");
      assert.ok(!(await everythingOnPage(page)).includes(second));
      await item.getByText("Old secret works until").waitFor();
    });

    it("rotates after a leak, ending the tokens issued before, and the audit trail says so", async () => {
      const item = card("Inventory sync");
      await item.getByRole("button", { name: "Rotate secret" }).click();
      await dialog().getByRole("checkbox", { name: "End access tokens issued before now" }).check();
      await dialog().getByRole("button", { name: "Rotate secret" }).click();
      await dialog().getByRole("textbox", { name: "Client secret" }).waitFor();
      await page.keyboard.press("Escape");
      await dialogClosed();
      const { items } = await demo.list();
      const rotated = items.find((c) => c.name === "Inventory sync");
      const { items: trail } = await demo.credentialAudit(rotated.client_id, { limit: 1 });
      assert.equal(trail[0].type, "credential.secret_rotated");
      assert.equal(trail[0].details?.end_existing_tokens, true, JSON.stringify(trail[0]));
    });

    it("edits name, description and scopes", async () => {
      await card("Inventory sync").getByRole("button", { name: "Edit details" }).click();
      await dialog().getByRole("textbox", { name: "Name" }).fill("Inventory sync – production");
      await dialog().getByRole("textbox", { name: "Scopes" }).fill("products:read stock:write");
      await dialog().getByRole("button", { name: "Save changes" }).click();
      await dialogClosed();
      const item = card("Inventory sync – production");
      await item.getByText("stock:write", { exact: true }).waitFor();
      assert.equal(await item.getByText("orders:write", { exact: true }).count(), 0);
    });

    it("shows the 72-hour expiry lock before the admin tries", async () => {
      await demo.create({ name: "Short-lived", scopes: ["products:read"], expires_in_days: 1 });
      await page.getByRole("button", { name: "Refresh" }).click();
      const item = card("Short-lived");
      const edit = item.getByRole("button", { name: "Edit expiry" });
      await edit.waitFor();
      assert.equal(await edit.isDisabled(), true);
      await item.getByText(/Expiry locked: it is less than 72 hours away/).waitFor();
      await item.getByText("(locked)").waitFor();
      assert.equal(await card("Inventory sync – production").getByRole("button", { name: "Edit expiry" }).isDisabled(), false);
    });

    it("refreshes to the current state, and says why, when the credential changed behind the page's back", async () => {
      const item = card("Inventory sync – production");
      const [credential] = (await demo.list()).items.filter((c) => c.name === "Inventory sync – production");
      await demo.update(credential.client_id, { description: "Changed by someone else" });

      await item.getByRole("button", { name: "Edit expiry" }).click();
      await dialog().getByRole("combobox", { name: "New expiry" }).selectOption({ label: "After a number of days" });
      await dialog().getByRole("spinbutton", { name: "Number of days from now" }).fill("30");
      await dialog().getByRole("button", { name: "Save expiry" }).click();
      await dialogClosed();
      await page.getByRole("alert").getByText(/was changed elsewhere since this page showed it, so nothing was changed/).waitFor();
      await item.getByText("Changed by someone else").waitFor();
      await page.screenshot({ path: join(shots, "stale-refusal-desktop.png") });
      const after = await demo.get(credential.client_id);
      assert.equal(after.credential.expires_at, credential.expires_at, "the stale edit changed nothing");

      // Now at the current version, the same edit goes through.
      await item.getByRole("button", { name: "Edit expiry" }).click();
      await dialog().getByRole("combobox", { name: "New expiry" }).selectOption({ label: "After a number of days" });
      await dialog().getByRole("spinbutton", { name: "Number of days from now" }).fill("30");
      await dialog().getByRole("button", { name: "Save expiry" }).click();
      await dialogClosed();
      await page.getByRole("status").getByText(/now expires/).waitFor();
    });

    it("shows the audit trail of a credential", async () => {
      await card("Inventory sync – production").getByRole("button", { name: "Audit trail" }).click();
      const events = dialog().getByRole("list", { name: "Events, newest first" });
      await events.getByText("Created", { exact: true }).waitFor();
      for (const word of ["Suspended", "Reactivated", "Secret rotated", "Details changed", "Expiry changed"]) {
        assert.ok((await events.getByText(word, { exact: true }).count()) >= 1, word);
      }
      await page.screenshot({ path: join(shots, "audit-desktop.png") });
      await dialog().getByRole("button", { name: "Close" }).click();
      await dialogClosed();
    });

    it("revokes after a confirmation that names the credential and says it is permanent", async () => {
      const item = card("Inventory sync – production");
      await item.getByRole("button", { name: "Revoke" }).click();
      await dialog().getByRole("heading", { name: "Revoke “Inventory sync – production”?" }).waitFor();
      await dialog().getByText(/permanent and cannot be undone/).waitFor();
      await dialog().getByRole("textbox", { name: /Reason/ }).fill("Retired integration");
      await dialog().getByRole("button", { name: "Revoke" }).click();
      await dialogClosed();
      await item.getByText("Revoked", { exact: true }).waitFor();
      await item.getByText(/Retired integration/).waitFor();
      assert.equal(await item.getByRole("button", { name: "Rotate secret" }).count(), 0);
    });

    it("deletes after a confirmation that names the credential", async () => {
      await card("Inventory sync – production").getByRole("button", { name: "Delete" }).click();
      await dialog().getByRole("heading", { name: "Delete “Inventory sync – production”?" }).waitFor();
      await dialog().getByRole("button", { name: "Delete" }).click();
      await dialogClosed();
      await card("Inventory sync – production").waitFor({ state: "detached" });
      await page.getByRole("status").getByText(/Deleted “Inventory sync – production”/).waitFor();
    });

    it("sends If-Match with the version the admin saw on every change, and an idempotency key on create and rotate", () => {
      const changes = mutations.filter((m) => !(m.method === "POST" && m.url.endsWith("/credentials")));
      assert.ok(changes.length >= 8, `saw ${changes.length} changes`);
      for (const change of changes) {
        assert.match(change.headers["if-match"] ?? "", /^"\d+"$/, `${change.method} ${change.url}`);
      }
      const issuing = mutations.filter((m) => m.method === "POST" && (m.url.endsWith("/credentials") || m.url.endsWith("/rotate")));
      assert.ok(issuing.length >= 2);
      for (const request of issuing) {
        assert.match(request.headers["idempotency-key"] ?? "", /^[\x21-\x7e]{32,255}$/);
      }
    });

    it("closes a dialog with Escape and returns focus to its opener", async () => {
      await page.getByRole("button", { name: "Create credential" }).focus();
      await page.keyboard.press("Enter");
      await dialog().getByRole("textbox", { name: "Name" }).waitFor();
      assert.equal(await focused(page), "input:", "the first field has focus");
      await page.keyboard.press("Escape");
      await dialogClosed();
      assert.equal(await focused(page), "button:Create credential");
    });

    it("refreshes and shows the lock when the expiry was moved into the 72-hour window behind the page's back", async () => {
      const issued = await demo.create({ name: "Moved behind", scopes: ["products:read"], expires_in_days: 30 });
      await page.getByRole("button", { name: "Refresh" }).click();
      const item = card("Moved behind");
      const edit = item.getByRole("button", { name: "Edit expiry" });
      await edit.waitFor();
      assert.equal(await edit.isDisabled(), false);
      await demo.setExpiry(issued.credential.client_id, new Date(Date.now() + 24 * 3600 * 1000));

      await edit.click();
      await dialog().getByRole("combobox", { name: "New expiry" }).selectOption({ label: "Never (remove the expiry)" });
      await dialog().getByRole("button", { name: "Save expiry" }).click();
      await dialogClosed();
      await page.getByRole("alert").getByText(/The view now shows its current state/).waitFor();
      await item.getByText(/Expiry locked: it is less than 72 hours away/).waitFor();
      assert.equal(await edit.isDisabled(), true);
    });

    it("filters by status and pages with Show more, embedded in another page through getToken", async () => {
      // A platform's own settings page, embedding the built module from the same origin.
      for (const name of ["Paging one", "Paging two"]) await demo.create({ name, scopes: ["products:read"] });
      const embedUrl = `${gateway.url}/console/embed-test.html`;
      const embedded = await context.newPage();
      try {
        await embedded.route(embedUrl, (route) =>
          route.fulfill({
            contentType: "text/html",
            body: `<!doctype html><html lang="en"><body><h1>Acme settings</h1>
              <clavis-credentials api-url="${gateway.url}" tenant="demo" page-size="2"></clavis-credentials>
              <script type="module">
                import "/console/lib/clavis-credentials.js";
                window.asked = 0;
                document.querySelector("clavis-credentials").getToken = async () => { window.asked += 1; return ${JSON.stringify(gateway.token)}; };
              </script></body></html>`,
          }),
        );
        await embedded.goto(embedUrl);
        const cards = embedded.getByRole("list", { name: "Credentials" }).locator(":scope > li");
        await embedded.getByRole("button", { name: "Show more credentials" }).waitFor();
        assert.equal(await cards.count(), 2);
        await embedded.getByRole("button", { name: "Show more credentials" }).click();
        await embedded.waitForFunction(() => {
          const root = document.querySelector("clavis-credentials")?.shadowRoot;
          return (root?.querySelectorAll(".cards > li").length ?? 0) >= 3;
        });
        const all = (await demo.list({ limit: 100 })).items.length;
        assert.ok(all >= 3);
        assert.ok((await embedded.evaluate(() => window.asked)) >= 2, "getToken is asked for each request");

        await embedded.getByRole("combobox", { name: "Status" }).selectOption({ label: "Revoked" });
        await embedded.getByText(/No revoked credentials/).waitFor();
        await embedded.getByRole("combobox", { name: "Status" }).selectOption({ label: "Active" });
        // Which active credentials fill the first page of two is not fixed: creation times are
        // kept to the second, and earlier tests' credentials may share that second.
        await embedded.getByText(/No revoked credentials/).waitFor({ state: "detached" });
        await cards.first().waitFor();
        for (const badge of await cards.locator(".badge").allTextContents()) assert.equal(badge, "Active");
      } finally {
        await embedded.close();
      }
    });

    it("shows the API's refusal of a bad token as a sentence", async () => {
      const bad = await context.newPage();
      try {
        const [head, payload] = gateway.token.split(".");
        await bad.goto(`${gateway.url}/console/#token=${head}.${payload}.bm90LWEtc2lnbmF0dXJl`);
        const alert = bad.getByRole("alert").filter({ hasText: /\w/ });
        await alert.waitFor();
        const text = (await alert.textContent()) ?? "";
        console.log(`# the refusal shown: ${text.trim()}`);
        assert.match(text, /[A-Z].*\./, text);
        assert.ok(!text.includes("{"), text);
        const none = await context.newPage();
        await none.goto(`${gateway.url}/console/`);
        await none.getByText("No management token.").waitFor();
        await none.close();
      } finally {
        await bad.close();
      }
    });

    it("offers an advisor a tenant picker from the advises claim (API answers stubbed: an advisor token cannot be minted here)", async () => {
      const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
      const advisorToken = `${part({ alg: "RS256", typ: "JWT" })}.${part({ sub: "ada", role: "advisor", tenant: "advisors", advises: "[acme globex]", exp: Math.floor(Date.now() / 1000) + 3600 })}.c2lnbmF0dXJl`;
      const advisor = await context.newPage();
      const asked = [];
      try {
        await advisor.route(/\/v1\//, (route) => {
          const url = new URL(route.request().url());
          asked.push(`${url.pathname} ${route.request().headers().authorization === `Bearer ${advisorToken}`}`);
          if (url.pathname === "/v1/scopes") {
            return route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ items: [{ scope: "products:read", description: "Read the product catalogue" }, { scope: "orders:write", description: "Create orders" }] }) });
          }
          const tenant = url.pathname.split("/")[3];
          if (!url.pathname.endsWith("/credentials")) return route.fulfill({ status: 404, contentType: "application/problem+json", body: JSON.stringify({ type: "about:blank", title: "Not found", status: 404, detail: "No such route.", code: "not_found" }) });
          const credential = {
            client_id: "cid_abcdefghijklmnopqrstuvwxyz", tenant, name: `${tenant} integration`, description: "", scopes: ["products:read"],
            environment: "live", status: "active", created_at: "2026-01-01T00:00:00Z", created_by: "ada", expires_at: null, expiry_locked: false,
            secret_version: 1, secret_rotated_at: null, previous_secret_valid_until: null, suspended_at: null, revoked_at: null, revoked_by: null,
            revocation_reason: null, last_used_at: null, request_count: 0, usage_month: "2026-01", monthly_request_quota: null, version: 1,
          };
          return route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ items: [credential], next_cursor: null }) });
        });
        await advisor.goto(`${gateway.url}/console/#token=${advisorToken}`);
        const picker = advisor.getByRole("combobox", { name: "Tenant" });
        await picker.waitFor();
        assert.deepEqual(await picker.locator("option").allTextContents(), ["acme", "globex"]);
        await advisor.getByRole("heading", { name: "acme integration", level: 3 }).waitFor();
        await picker.selectOption("globex");
        await advisor.getByRole("heading", { name: "globex integration", level: 3 }).waitFor();
        assert.ok(asked.includes("/v1/tenants/acme/credentials true"), asked.join(", "));
        assert.ok(asked.includes("/v1/tenants/globex/credentials true"), asked.join(", "));
        assert.equal(advisor.url(), `${gateway.url}/console/`);

        // With a scope catalogue, its scopes are one-click suggestions next to the free text.
        await advisor.getByRole("button", { name: "Create credential" }).click();
        const suggestions = advisor.getByRole("dialog").getByRole("group", { name: "Available scopes" });
        await suggestions.getByRole("button", { name: "+ orders:write" }).click();
        await suggestions.getByRole("button", { name: "+ products:read" }).click();
        assert.equal(await advisor.getByRole("dialog").getByRole("textbox", { name: "Scopes" }).inputValue(), "orders:write, products:read");
        await advisor.keyboard.press("Escape");
      } finally {
        await advisor.close();
      }
    });

    it("fits a 375px-wide screen without horizontal scrolling: the list and the secret modal", async () => {
      const narrow = await context.newPage();
      try {
        await narrow.setViewportSize({ width: 375, height: 812 });
        await narrow.goto(`${gateway.url}/console/#token=${gateway.token}`);
        await narrow.getByRole("heading", { name: "Short-lived", level: 3 }).waitFor();
        assert.equal(await noHorizontalScroll(narrow), true, "the list scrolls sideways at 375px");
        await narrow.screenshot({ path: join(shots, "list-375.png"), fullPage: true });
        await narrow.getByRole("button", { name: "Create credential" }).click();
        await narrow.getByRole("dialog").getByRole("textbox", { name: "Name" }).fill("Phone check");
        await narrow.getByRole("dialog").getByRole("textbox", { name: "Scopes" }).fill("products:read");
        // An expiry picked as a date: the end of that day in the admin's time.
        const day = new Date(Date.now() + 60 * 86_400_000);
        const picked = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, "0")}-${String(day.getDate()).padStart(2, "0")}`;
        await narrow.getByRole("dialog").getByRole("combobox", { name: "Expiry" }).selectOption({ label: "Expires on a date" });
        await narrow.getByRole("dialog").getByLabel(/Expiry date/).fill(picked);
        await narrow.getByRole("dialog").getByRole("button", { name: "Create", exact: true }).click();
        await narrow.getByRole("dialog").getByRole("textbox", { name: "Client secret" }).waitFor();
        assert.equal(await noHorizontalScroll(narrow), true, "the secret modal scrolls sideways at 375px");
        const box = await narrow.getByRole("dialog").boundingBox();
        assert.ok(box !== null && box.x >= 0 && box.x + box.width <= 375, JSON.stringify(box));
        await narrow.screenshot({ path: join(shots, "secret-375.png") });
        await narrow.getByRole("dialog").getByRole("button", { name: "I have saved the secret" }).click();
        const [made] = (await demo.list()).items.filter((c) => c.name === "Phone check");
        const endOfDay = new Date(day.getFullYear(), day.getMonth(), day.getDate(), 23, 59, 59);
        assert.equal(Date.parse(made.expires_at), endOfDay.getTime());
      } finally {
        await narrow.close();
      }
    });

    it("refuses a cleartext api-url off loopback, embedded: says so and sends the token nowhere", async () => {
      const embedUrl = `${gateway.url}/console/embed-cleartext.html`;
      const embedded = await context.newPage();
      const sent = [];
      try {
        await embedded.route(/^http:\/\/api\.example\.com\//, (route) => {
          sent.push(route.request().url());
          return route.abort();
        });
        await embedded.route(embedUrl, (route) =>
          route.fulfill({
            contentType: "text/html",
            body: `<!doctype html><html lang="en"><body><h1>Acme settings</h1>
              <clavis-credentials api-url="http://api.example.com" tenant="demo"></clavis-credentials>
              <script type="module">
                import "/console/lib/clavis-credentials.js";
                document.querySelector("clavis-credentials").getToken = async () => ${JSON.stringify(gateway.token)};
              </script></body></html>`,
          }),
        );
        await embedded.goto(embedUrl);
        await embedded.getByText(/api\.example\.com, which is not a loopback host/).waitFor();
        assert.deepEqual(sent, []);
      } finally {
        await embedded.close();
      }
    });

    it("keeps its session when a link offers another tenant's token (login CSRF), with a notice and a deliberate Sign out", async () => {
      // Token B: a real admin of another tenant, signed by the same identity provider.
      const otherToken = gateway.devToken({ tenant: "acme", subject: "mallory" });
      assert.match(otherToken, /^[\w-]+\.[\w-]+\.[\w-]+$/);
      await new ClavisClient({ url: gateway.url, token: otherToken }).tenant("acme").create({ name: "Acme only", scopes: ["products:read"] });
      await demo.create({ name: "Demo only", scopes: ["products:read"] });

      const held = await context.newPage();
      const bearers = [];
      held.on("request", (request) => {
        if (request.url().includes("/v1/")) bearers.push(request.headers().authorization ?? "");
      });
      try {
        await held.goto(`${gateway.url}/console/#token=${gateway.token}`);
        await held.getByRole("heading", { name: "Demo only", level: 3 }).waitFor();
        const who = (await held.locator(".who").textContent()) ?? "";

        // A link from someone else, followed in this tab: only the fragment changes.
        await held.evaluate((token) => {
          location.hash = `#token=${token}`;
        }, otherToken);
        const notice = held.getByRole("alert").filter({ hasText: /different management token was offered/ });
        await notice.waitFor({ timeout: 10_000 });
        assert.match((await notice.textContent()) ?? "", /ignored/);
        await held.screenshot({ path: join(shots, "ignored-token.png") });
        await notice.getByRole("button", { name: "Sign out" }).waitFor();
        await held.waitForFunction(() => location.hash === "");
        assert.equal(held.url(), `${gateway.url}/console/`);

        // Still tenant A's session: its data, its user, and every request with token A.
        await held.getByRole("combobox", { name: "Status" }).selectOption({ label: "Active" });
        await held.getByRole("heading", { name: "Demo only", level: 3 }).waitFor();
        assert.equal(await held.getByRole("heading", { name: "Acme only", level: 3 }).count(), 0);
        assert.equal((await held.locator(".who").textContent()) ?? "", who);
        assert.ok(bearers.length > 0 && bearers.every((b) => b === `Bearer ${gateway.token}`), "a request went out with the offered token");
        const stored = await held.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }, history.state, location.href]));
        assert.ok(!stored.includes(otherToken) && !stored.includes(gateway.token), stored);

        // Switching is deliberate: Sign out, then the new link.
        await notice.getByRole("button", { name: "Sign out" }).click();
        await held.getByText("No management token.").waitFor();
        await held.evaluate((token) => {
          location.hash = `#token=${token}`;
        }, otherToken);
        await held.getByRole("heading", { name: "Acme only", level: 3 }).waitFor();
        assert.equal(await held.getByRole("alert").filter({ hasText: /different management token/ }).count(), 0);
      } finally {
        await held.close();
      }
    });

    // Usage: tokens asked for through the SDK's token source, counted by the gateway (which flushes
    // every second: the API is polled until the counts show, with a deadline), then read in the page.
    const usageDialog = (name) => page.getByRole("dialog", { name });
    const utcDay = (offset = 0) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    let used;
    let usage;

    /** Reads `read` until `done` holds, failing after 20 s with what it read last. */
    async function until(read, done, what) {
      const deadline = Date.now() + 20_000;
      let value = await read();
      while (!done(value)) {
        assert.ok(Date.now() < deadline, `${what} did not show within 20 s: ${JSON.stringify(value)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
        value = await read();
      }
      return value;
    }

    it("charts a credential's last 30 days after token requests: the SVG's name states the totals", async () => {
      used = await demo.create({ name: "Usage check", scopes: ["products:read"] });
      const tokens = (secret) => new TokenSource({ url: gateway.url, clientId: used.credential.client_id, clientSecret: secret, retry: { maxRetries: 0 } });
      for (let i = 0; i < 3; i += 1) await tokens(used.client_secret).token();
      await assert.rejects(tokens(`${used.client_secret}x`).token(), OAuthError);
      usage = await until(() => demo.credentialUsage(used.credential.client_id), (u) => u.total_uses >= 3 && u.total_refused >= 1, "3 uses and 1 refusal");
      assert.equal(usage.total_uses, 3);
      assert.equal(usage.total_refused, 1);

      await page.getByRole("button", { name: "Refresh" }).click();
      const item = card("Usage check");
      await item.getByRole("button", { name: "Usage of “Usage check”" }).click();
      const chart = usageDialog("Usage of “Usage check”").getByRole("img", { name: "Last 30 days: 3 uses, 1 refused" });
      await chart.waitFor();
      assert.equal(await chart.evaluate((el) => el.tagName.toLowerCase()), "svg");
      await page.screenshot({ path: join(shots, "usage-desktop.png") });
    });

    it("shows the same numbers as a table, the refusal's reason in words", async () => {
      const panel = usageDialog("Usage of “Usage check”");
      await panel.getByRole("button", { name: "Show as table" }).click();
      const table = panel.getByRole("table", { name: /Uses and refusals per day/ });
      await table.waitFor();
      const rows = await table.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.children].map((cell) => cell.textContent.trim())));
      assert.equal(rows.length, 30);
      const refusedOf = (day) => Object.values(day.refused).reduce((a, b) => a + b, 0);
      assert.deepEqual(rows.map((r) => r.slice(0, 3)), usage.days.map((d) => [d.date, String(d.uses), String(refusedOf(d))]));
      assert.deepEqual(rows.at(-1), [utcDay(), "3", "1", "Wrong secret: 1"]);
      assert.deepEqual(await table.locator("tfoot tr").first().locator("th, td").allTextContents(), ["Total", "3", "1", ""]);
      await panel.getByRole("button", { name: "Hide table" }).waitFor();
      await page.screenshot({ path: join(shots, "usage-table-desktop.png") });
    });

    it("downloads the series as CSV: the header date,uses,refused and 30 rows", async () => {
      const panel = usageDialog("Usage of “Usage check”");
      const [csv] = await Promise.all([page.waitForEvent("download"), panel.getByRole("button", { name: "Download CSV" }).click()]);
      assert.equal(csv.suggestedFilename(), `usage-check-usage-${usage.from}-${usage.to}.csv`);
      const lines = readFileSync(await csv.path(), "utf8").trimEnd().split("\n");
      assert.equal(lines[0], "date,uses,refused");
      assert.equal(lines.length, 31);
      assert.equal(lines[1], `${utcDay(-29)},0,0`);
      assert.equal(lines[30], `${utcDay()},3,1`);
      await panel.getByRole("button", { name: "Close" }).click();
      await dialogClosed();
      assert.equal(await focused(page), "button:Usage of “Usage check”", "focus returns to the card's Usage");
    });

    it("marks a credential not used in 30 days, and filters to them through the API (unused_for_days=30)", async () => {
      // Nothing the gateway holds is 30 days old, so a second page sees one credential aged: its
      // creation moved 60 days back in the list's answer. The filter itself is the server's.
      const aged = await context.newPage();
      const asked = [];
      try {
        await aged.route(/\/v1\/tenants\/demo\/credentials(\?|$)/, async (route) => {
          asked.push(new URL(route.request().url()).search);
          const response = await route.fetch();
          const json = await response.json();
          for (const c of json.items) if (c.name === "Short-lived") c.created_at = new Date(Date.now() - 60 * 86_400_000).toISOString();
          return route.fulfill({ response, json });
        });
        await aged.goto(`${gateway.url}/console/#token=${gateway.token}`);
        const agedCard = (name) => aged.getByRole("listitem").filter({ has: aged.getByRole("heading", { name, exact: true, level: 3 }) });
        await agedCard("Short-lived").getByText("Not used in 30 days", { exact: true }).waitFor();
        assert.equal(await agedCard("Usage check").getByText("Not used in 30 days").count(), 0, "used today");
        assert.equal(await agedCard("Moved behind").getByText("Not used in 30 days").count(), 0, "made today, never used");

        const filter = aged.getByRole("checkbox", { name: "Only those not used in 30 days" });
        await filter.check();
        await aged.getByText(/No credential has gone unused for 30 days/).waitFor();
        assert.ok(asked.some((search) => new URLSearchParams(search).get("unused_for_days") === "30"), asked.join(" "));
        await filter.uncheck();
        await agedCard("Usage check").waitFor();
        assert.equal(new URLSearchParams(asked.at(-1)).get("unused_for_days"), null);
      } finally {
        await aged.close();
      }
    });

    it("shows the tenant's Usage: its days and its most used credentials", async () => {
      const tenant = await demo.usage();
      await page.getByRole("button", { name: "Usage", exact: true }).click();
      const panel = usageDialog("Usage of demo");
      const label = `Last 30 days: ${tenant.total_uses.toLocaleString("en-US")} ${tenant.total_uses === 1 ? "use" : "uses"}, ${tenant.total_refused} refused`;
      await panel.getByRole("img", { name: label }).waitFor();
      assert.ok(tenant.total_uses >= 3, JSON.stringify(tenant));
      const top = panel.getByRole("list", { name: "Most used credentials" }).getByRole("listitem");
      assert.deepEqual(await top.allTextContents().then((texts) => texts.map((t) => t.replace(/\s+/g, " ").trim())), tenant.top.map((t) => `${t.name} ${t.uses} ${t.uses === 1 ? "use" : "uses"}`));
      await top.filter({ hasText: "Usage check" }).getByText("3 uses").waitFor();
      await page.screenshot({ path: join(shots, "tenant-usage-desktop.png") });
      await panel.getByRole("button", { name: "Show as table" }).click();
      assert.equal(await panel.getByRole("table").locator("tbody tr").count(), 30);
      await page.keyboard.press("Escape");
      await dialogClosed();
      assert.equal(await focused(page), "button:Usage");

      // A credential deleted since keeps its uses in the tenant's view, without its name.
      const gone = await demo.create({ name: "Used then deleted", scopes: ["products:read"] });
      await new TokenSource({ url: gateway.url, clientId: gone.credential.client_id, clientSecret: gone.client_secret, retry: { maxRetries: 0 } }).token();
      await until(() => demo.usage(), (u) => u.top.some((t) => t.client_id === gone.credential.client_id), "the deleted credential's use");
      await demo.delete(gone.credential.client_id);
      const after = await demo.usage();
      const deleted = after.top.find((t) => t.client_id === gone.credential.client_id);
      assert.deepEqual(deleted, { client_id: gone.credential.client_id, name: null, uses: 1 }, JSON.stringify(after.top));
      await page.getByRole("button", { name: "Usage", exact: true }).click();
      await panel.getByRole("list", { name: "Most used credentials" }).getByRole("listitem").filter({ hasText: gone.credential.client_id }).getByText("Deleted credential").waitFor();
      await page.keyboard.press("Escape");
      await dialogClosed();
    });

    it("fits usage in a 375px-wide screen: the credential's chart and table, and the tenant's view", async () => {
      const narrow = await context.newPage();
      try {
        await narrow.setViewportSize({ width: 375, height: 812 });
        await narrow.goto(`${gateway.url}/console/#token=${gateway.token}`);
        await narrow.getByRole("heading", { name: "Usage check", level: 3 }).waitFor();
        await narrow.getByRole("button", { name: "Usage of “Usage check”" }).click();
        const panel = narrow.getByRole("dialog", { name: "Usage of “Usage check”" });
        await panel.getByRole("img", { name: "Last 30 days: 3 uses, 1 refused" }).waitFor();
        const box = await panel.boundingBox();
        assert.ok(box !== null && box.x >= 0 && box.x + box.width <= 375, JSON.stringify(box));
        const chart = await panel.getByRole("img").boundingBox();
        assert.ok(chart !== null && chart.width > 200 && chart.x + chart.width <= box.x + box.width, JSON.stringify(chart));
        await narrow.screenshot({ path: join(shots, "usage-375.png") });
        await panel.getByRole("button", { name: "Show as table" }).click();
        const table = panel.getByRole("table");
        await table.waitFor();
        const fits = await table.evaluate((t) => t.scrollWidth <= t.parentElement.clientWidth);
        assert.equal(fits, true, "the table scrolls sideways at 375px");
        await table.locator("tbody tr").last().scrollIntoViewIfNeeded();
        await narrow.screenshot({ path: join(shots, "usage-table-375.png") });
        assert.equal(await noHorizontalScroll(narrow), true);
        await narrow.keyboard.press("Escape");
        await narrow.getByRole("button", { name: "Usage", exact: true }).click();
        const tenant = narrow.getByRole("dialog", { name: "Usage of demo" });
        await tenant.getByRole("list", { name: "Most used credentials" }).waitFor();
        assert.equal(await noHorizontalScroll(narrow), true);
        await narrow.screenshot({ path: join(shots, "tenant-usage-375.png") });
      } finally {
        await narrow.close();
      }
    });

    // The tenant policy: the last tests, since a tightened policy refuses the creates above; the
    // last one leaves the open policy again.
    const policyPanel = () => page.getByRole("dialog", { name: "Tenant policy" });
    const lifetimeField = () => policyPanel().getByLabel("Maximum lifetime (days)", { exact: true });
    let madeBefore;

    it("opens the Policy panel on the open policy, and a tightened one marks a credential made before it Blocked by policy, with why and the fix", async () => {
      madeBefore = (await demo.create({ name: "Made before the policy", scopes: ["products:read"] })).credential;
      await page.getByRole("button", { name: "Refresh" }).click();
      const item = card("Made before the policy");
      await item.waitFor();
      assert.equal(await item.getByText("Blocked by policy").count(), 0);

      await page.getByRole("button", { name: "Policy", exact: true }).click();
      await lifetimeField().waitFor();
      await policyPanel().getByText(/No policy has been set/).waitFor();
      assert.equal(await lifetimeField().inputValue(), "");
      assert.equal(await policyPanel().getByRole("checkbox", { name: "Require an expiry date", exact: true }).isChecked(), false);
      assert.equal(await policyPanel().getByLabel("Maximum grace period (seconds)", { exact: true }).inputValue(), "");
      assert.equal(await policyPanel().getByLabel("Allowed scopes", { exact: true }).inputValue(), "");
      const environments = policyPanel().getByRole("group", { name: "Allowed environments" });
      assert.equal(await environments.getByRole("checkbox", { name: "Live", exact: true }).isChecked(), true);
      assert.equal(await environments.getByRole("checkbox", { name: "Test", exact: true }).isChecked(), true);
      assert.equal(await policyPanel().getByLabel("When a secret leaks", { exact: true }).inputValue(), "revoke");
      await page.screenshot({ path: join(shots, "policy-desktop.png") });

      await lifetimeField().fill("30");
      await policyPanel().getByRole("button", { name: "Save policy" }).click();
      await dialogClosed();
      assert.equal(await focused(page), "button:Policy", "focus returns to the Policy button");
      await page.getByRole("status").getByText(/Saved the policy \(version 1\)/).waitFor();
      const saved = mutations.filter((m) => m.method === "PUT" && m.url.endsWith("/v1/tenants/demo/policy"));
      assert.equal(saved.length, 1);
      assert.equal(saved[0].headers["if-match"], '"0"', "If-Match: the version the panel loaded");
      const { policy } = await demo.policy();
      assert.equal(policy.max_lifetime_days, 30);
      assert.equal(policy.version, 1);

      await item.getByText("Blocked by policy", { exact: true }).waitFor();
      const { credential } = await demo.get(madeBefore.client_id);
      assert.ok(credential.policy_violations.length > 0, JSON.stringify(credential));
      for (const reason of credential.policy_violations) await item.getByText(reason, { exact: true }).waitFor();
      await item.getByText(/Edit its expiry or scopes, or relax the tenant's policy/).waitFor();
      await page.screenshot({ path: join(shots, "blocked-desktop.png"), fullPage: true });
    });

    it("shows the policy's sentence when a create breaks the policy", async () => {
      let refused;
      try {
        await demo.create({ name: "Never expires", scopes: ["products:read"] });
      } catch (error) {
        refused = error;
      }
      assert.equal(refused?.code, "policy_violation", String(refused));
      assert.match(refused.detail, /30 days/);

      await page.getByRole("button", { name: "Create credential" }).click();
      await dialog().getByRole("textbox", { name: "Name" }).fill("Never expires");
      await dialog().getByRole("textbox", { name: "Scopes" }).fill("products:read");
      await dialog().getByRole("button", { name: "Create", exact: true }).click();
      await dialog().getByRole("alert").getByText(refused.detail).waitFor();
      assert.equal(await dialog().getByRole("textbox", { name: "Client secret" }).count(), 0);
      await page.keyboard.press("Escape");
      await dialogClosed();
      assert.equal((await demo.list({ limit: 100 })).items.filter((c) => c.name === "Never expires").length, 0);
    });

    it("does not overwrite a policy changed since the panel loaded it: says so and shows the current values", async () => {
      await page.getByRole("button", { name: "Policy", exact: true }).click();
      await lifetimeField().waitFor();
      assert.equal(await lifetimeField().inputValue(), "30");
      await demo.setPolicy({ max_lifetime_days: 60, leak_action: "suspend" }, { ifMatch: 1 });

      // A value the panel refuses itself first, naming the field.
      await lifetimeField().fill("0");
      await policyPanel().getByRole("button", { name: "Save policy" }).click();
      await policyPanel().getByRole("alert").getByText(/^Maximum lifetime \(days\): /).waitFor();

      await lifetimeField().fill("45");
      await policyPanel().getByRole("button", { name: "Save policy" }).click();
      await policyPanel().getByRole("alert").getByText(/changed since you loaded it, so nothing was saved/).waitFor();
      assert.equal(await lifetimeField().inputValue(), "60");
      assert.equal(await policyPanel().getByLabel("When a secret leaks", { exact: true }).inputValue(), "suspend");
      await page.screenshot({ path: join(shots, "policy-conflict-desktop.png") });
      const { policy } = await demo.policy();
      assert.equal(policy.max_lifetime_days, 60, "nothing was overwritten");
      assert.equal(policy.version, 2);
    });

    it("clears the mark when the policy is relaxed", async () => {
      await lifetimeField().fill("");
      await policyPanel().getByLabel("When a secret leaks", { exact: true }).selectOption("revoke");
      await policyPanel().getByRole("button", { name: "Save policy" }).click();
      await dialogClosed();
      await page.getByRole("status").getByText(/Saved the policy \(version 3\)/).waitFor();
      const saved = mutations.filter((m) => m.method === "PUT" && m.url.endsWith("/v1/tenants/demo/policy"));
      assert.equal(saved.at(-1).headers["if-match"], '"2"', "the version reloaded after the 412");
      await card("Made before the policy").getByText("Blocked by policy").waitFor({ state: "detached" });
      const { credential } = await demo.get(madeBefore.client_id);
      assert.deepEqual(credential.policy_violations, []);
      const { policy } = await demo.policy();
      assert.equal(policy.max_lifetime_days, null);
      assert.equal(policy.leak_action, "revoke");
    });
  });

  // Webhooks, with a gateway of their own (so that no other test's events reach the endpoint): an
  // endpoint on a receiver this suite serves on a loopback port (the gateway's serve allows
  // private destinations and delivers in process), answering 204.
  describe("the Webhooks section in Chromium against the local gateway", { timeout: 300_000 }, () => {
    let gateway;
    let browser;
    let context;
    let page;
    let demo;
    const consoleMessages = [];
    const dialog = () => page.getByRole("dialog");
    const dialogClosed = async () => {
      await dialog().waitFor({ state: "detached" });
      await page.waitForFunction(() => !document.querySelector("clavis-credentials")?.shadowRoot?.querySelector("dialog"));
    };
    /** Reads `read` until `done` holds, failing after 20 s with what it read last. */
    async function until(read, done, what) {
      const deadline = Date.now() + 20_000;
      let value = await read();
      while (!done(value)) {
        assert.ok(Date.now() < deadline, `${what} did not show within 20 s: ${JSON.stringify(value)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
        value = await read();
      }
      return value;
    }
    const received = [];
    let receiver;
    let hookUrl;
    let signingSecret;
    let testEvent;
    const endpoint = () => page.getByRole("listitem").filter({ has: page.getByRole("heading", { name: hookUrl, exact: true, level: 3 }) });

    before(async () => {
      mkdirSync(shots, { recursive: true });
      gateway = await startGateway(binary);
      demo = new ClavisClient({ url: gateway.url, token: gateway.token }).tenant("demo");
      browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ["--no-sandbox"] });
      context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: gateway.url });
      page = await context.newPage();
      page.on("console", (message) => consoleMessages.push(message.text()));
      await page.goto(`${gateway.url}/console/#token=${gateway.token}`);
      await page.getByText("No credentials yet.").waitFor();
      receiver = createServer((request, response) => {
        const chunks = [];
        request.on("data", (chunk) => chunks.push(chunk));
        request.on("end", () => {
          received.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
          response.statusCode = 204;
          response.end();
        });
      });
      await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
      hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;
    });

    after(async () => {
      await browser?.close();
      await gateway?.stop();
      receiver?.closeAllConnections();
      await new Promise((resolve) => (receiver ? receiver.close(resolve) : resolve()));
    });

    it("unfolds under its Webhooks control, empty, and reads the endpoints only then", async () => {
      const control = page.getByRole("button", { name: "Webhooks", exact: true });
      assert.equal(await control.getAttribute("aria-expanded"), "false");
      assert.equal(await page.getByRole("button", { name: "Add endpoint" }).count(), 0, "folded: nothing shown");
      const read = page.waitForRequest((request) => request.url().endsWith("/v1/tenants/demo/webhooks") && request.method() === "GET");
      await control.click();
      await read;
      assert.equal(await control.getAttribute("aria-expanded"), "true");
      await page.getByText("No endpoints yet.").waitFor();
    });

    it("adds an endpoint for all events and shows its signing secret once, with Copy", async () => {
      await page.getByRole("button", { name: "Add endpoint" }).click();
      const form = dialog();
      await form.getByRole("heading", { name: "Add endpoint" }).waitFor();
      assert.equal(await focused(page), "input:", "the URL field has focus");
      assert.equal(await form.getByRole("checkbox", { name: "All events" }).isChecked(), true, "All events by default");
      assert.equal(await form.getByRole("checkbox", { name: "credential.revoked" }).count(), 0, "single types only when All events is unticked");
      // A URL the page can tell is wrong is explained before anything is sent.
      await form.getByRole("textbox", { name: "Endpoint URL" }).fill("hooks.example.com");
      await form.getByRole("button", { name: "Add", exact: true }).click();
      await form.getByRole("alert").getByText(/^Endpoint URL: .*is not a URL/).waitFor();
      // One the server refuses (a host that does not resolve) is named by the field too.
      await form.getByRole("textbox", { name: "Endpoint URL" }).fill("https://no-such-host.invalid/hook");
      await form.getByRole("button", { name: "Add", exact: true }).click();
      const refused = form.getByRole("alert").filter({ hasText: /^Endpoint URL: / }).filter({ hasNotText: /is not a URL/ });
      await refused.waitFor();
      console.log(`# the server's refusal shown: ${(await refused.textContent())?.trim()}`);
      assert.equal(await form.getByRole("textbox", { name: "Signing secret" }).count(), 0);
      assert.deepEqual(await demo.webhooks(), [], "nothing was registered");
      await form.getByRole("textbox", { name: "Endpoint URL" }).fill(hookUrl);
      await form.getByRole("textbox", { name: /Description/ }).fill("Pager");
      await form.getByRole("button", { name: "Add", exact: true }).click();

      const secretField = dialog().getByRole("textbox", { name: "Signing secret" });
      await secretField.waitFor();
      signingSecret = await secretField.inputValue();
      assert.match(signingSecret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      await dialog().getByText(/cannot be shown again/).waitFor();
      await page.screenshot({ path: join(shots, "webhook-secret-desktop.png") });
      await dialog().getByRole("button", { name: "Copy" }).click();
      await dialog().getByText(/Copied to the clipboard|press Ctrl\+C/).waitFor();
      const copied = await page.evaluate(() => navigator.clipboard.readText().catch(() => null));
      if (copied !== null) assert.equal(copied, signingSecret);

      await dialog().getByRole("button", { name: "I have saved the secret" }).click();
      await dialogClosed();
      assert.equal(await focused(page), "button:Add endpoint", "focus returns to the opener");
      const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + location.href + JSON.stringify(history.state));
      assert.ok(!storage.includes(signingSecret), "the secret is in no storage and not in the URL");
      assert.ok(!(await everythingOnPage(page)).includes(signingSecret), "the secret is gone from the page");
      assert.ok(!consoleMessages.some((text) => text.includes(signingSecret)), "the secret was never logged");

      const item = endpoint();
      await item.getByText("Enabled", { exact: true }).waitFor();
      await item.getByText("All events", { exact: true }).waitFor();
      await item.getByText("Pager", { exact: true }).waitFor();
      const listed = await demo.webhooks();
      assert.equal(listed.length, 1);
      assert.deepEqual([listed[0].url, listed[0].event_types, listed[0].description], [hookUrl, null, "Pager"]);
      assert.ok(!JSON.stringify(listed).includes(signingSecret));
    });

    it("sends a test event, which reaches the receiver signed, and its delivery becomes Delivered", async () => {
      const item = endpoint();
      await item.getByRole("button", { name: "Send test" }).click();
      const note = page.getByRole("status").filter({ hasText: /Sent a test event/ });
      await note.waitFor();
      testEvent = /Sent a test event \((\S+)\)/.exec((await note.textContent()) ?? "")?.[1];
      assert.ok(testEvent !== undefined, "the notice names the event");
      await until(() => received.filter((r) => r.headers["webhook-id"] === testEvent), (r) => r.length >= 1, "the test event at the receiver");
      const request = received.find((r) => r.headers["webhook-id"] === testEvent);
      assert.equal(JSON.parse(request.body).type, "webhook.test");
      assert.match(request.headers["webhook-signature"] ?? "", /^v1,/);

      await item.getByRole("button", { name: "Deliveries" }).click();
      const table = dialog().getByRole("table", { name: "Deliveries, newest first" });
      const row = table.getByRole("row").filter({ hasText: testEvent });
      await row.waitFor();
      // Pending at first perhaps; the dialog reads again by itself while a delivery is due.
      await row.getByText("Delivered", { exact: true }).waitFor({ timeout: 30_000 });
      const cells = await row.getByRole("cell").allTextContents();
      assert.deepEqual(cells.map((c) => c.trim()), ["webhook.test", "1", "204", "—", "Delivered"]);
      for (const header of ["Event", "Type", "Attempts", "Last status", "Next attempt", "State"]) {
        await table.getByRole("columnheader", { name: header, exact: true }).waitFor();
      }
      await page.screenshot({ path: join(shots, "webhook-deliveries-desktop.png") });
      await dialog().getByRole("button", { name: "Close" }).click();
      await dialogClosed();
      assert.equal(await focused(page), "button:Deliveries", "focus returns to Deliveries");
    });

    it("disables the endpoint (Send test is then off, with why) and enables it again", async () => {
      const item = endpoint();
      await item.getByRole("button", { name: "Disable" }).click();
      await item.getByText("Disabled", { exact: true }).waitFor();
      await item.getByText(/Disabled by an admin/).waitFor();
      assert.equal(await item.getByRole("button", { name: "Send test" }).isDisabled(), true);
      assert.equal(await focused(page), "button:Enable", "focus stays on the control, now Enable");
      assert.equal((await demo.webhook((await demo.webhooks())[0].id)).status, "disabled");
      await page.screenshot({ path: join(shots, "webhook-disabled-desktop.png"), fullPage: true });
      await item.getByRole("button", { name: "Enable" }).click();
      await item.getByText("Enabled", { exact: true }).waitFor();
      assert.equal(await item.getByRole("button", { name: "Send test" }).isDisabled(), false);
      const [now] = await demo.webhooks();
      assert.equal(now.status, "enabled");
      assert.equal(now.disabled_reason, null);
    });

    it("chooses event types: untick All events, tick some, and the endpoint lists them", async () => {
      await endpoint().getByRole("button", { name: "Edit" }).click();
      await dialog().getByRole("checkbox", { name: "All events" }).uncheck();
      await dialog().getByRole("checkbox", { name: "credential.revoked" }).check();
      await dialog().getByRole("checkbox", { name: "credential.expiring_soon" }).check();
      await page.screenshot({ path: join(shots, "webhook-event-types-desktop.png") });
      await dialog().getByRole("button", { name: "Save changes" }).click();
      await dialogClosed();
      await endpoint().getByText("credential.expiring_soon", { exact: true }).waitFor();
      const [now] = await demo.webhooks();
      assert.deepEqual([...now.event_types].sort(), ["credential.expiring_soon", "credential.revoked"]);
    });

    it("rotates the signing secret into a new one-time dialog", async () => {
      await endpoint().getByRole("button", { name: "Rotate secret" }).click();
      await dialog().getByRole("heading", { name: "Rotate the signing secret?" }).waitFor();
      await dialog().getByText(/keeps signing beside it for 24 hours/).waitFor();
      await dialog().getByRole("button", { name: "Rotate secret" }).click();
      const secretField = dialog().getByRole("textbox", { name: "Signing secret" });
      await secretField.waitFor();
      const rotated = await secretField.inputValue();
      assert.match(rotated, /^whsec_/);
      assert.notEqual(rotated, signingSecret);
      await page.keyboard.press("Escape");
      await dialogClosed();
      assert.ok(!(await everythingOnPage(page)).includes(rotated));
      await endpoint().getByText("Old secret signs until").waitFor();
    });

    it("fits a 375px-wide screen: the endpoint and its deliveries", async () => {
      const narrow = await context.newPage();
      try {
        await narrow.setViewportSize({ width: 375, height: 812 });
        await narrow.goto(`${gateway.url}/console/#token=${gateway.token}`);
        await narrow.getByRole("button", { name: "Webhooks", exact: true }).click();
        const item = narrow.getByRole("listitem").filter({ has: narrow.getByRole("heading", { name: hookUrl, exact: true, level: 3 }) });
        await item.getByRole("button", { name: "Send test" }).waitFor();
        await item.scrollIntoViewIfNeeded();
        assert.equal(await noHorizontalScroll(narrow), true, "the section scrolls sideways at 375px");
        await narrow.screenshot({ path: join(shots, "webhooks-375.png"), fullPage: true });
        await item.getByRole("button", { name: "Deliveries" }).click();
        const panel = narrow.getByRole("dialog");
        await panel.getByRole("row").filter({ hasText: testEvent }).waitFor();
        const box = await panel.boundingBox();
        assert.ok(box !== null && box.x >= 0 && box.x + box.width <= 375, JSON.stringify(box));
        assert.equal(await noHorizontalScroll(narrow), true);
        await narrow.screenshot({ path: join(shots, "webhook-deliveries-375.png") });
      } finally {
        await narrow.close();
      }
    });

    it("deletes the endpoint after a confirmation that names it", async () => {
      await endpoint().getByRole("button", { name: "Delete" }).click();
      await dialog().getByRole("heading", { name: "Delete this endpoint?" }).waitFor();
      await dialog().getByText(hookUrl).waitFor();
      assert.equal(await focused(page), "button:Cancel", "Cancel has focus first");
      await dialog().getByRole("button", { name: "Delete" }).click();
      await dialogClosed();
      await endpoint().waitFor({ state: "detached" });
      await page.getByRole("status").getByText(/Deleted the endpoint/).waitFor();
      await page.getByText("No endpoints yet.").waitFor();
      assert.deepEqual(await demo.webhooks(), []);
    });
  });

  // Leaked secrets, with a gateway of their own (the tenant's leak action changes here, and the
  // credentials revoked and suspended would crowd the other suites' lists).
  describe("leaked secrets in Chromium against the local gateway", { timeout: 300_000 }, () => {
    let gateway;
    let browser;
    let context;
    let page;
    let demo;
    const consoleMessages = [];
    const reports = [];
    const dialog = () => page.getByRole("dialog");
    const card = (name) =>
      page.getByRole("listitem").filter({ has: page.getByRole("heading", { name, exact: true, level: 3 }) });
    const dialogClosed = async () => {
      await dialog().waitFor({ state: "detached" });
      await page.waitForFunction(() => !document.querySelector("clavis-credentials")?.shadowRoot?.querySelector("dialog"));
    };
    /** Nothing the page keeps or shows holds `secret`: storage, the URL, the page (shadow roots and field values included), the console. */
    async function assertSecretGone(secret) {
      const kept = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + location.href + document.cookie);
      assert.ok(!kept.includes(secret), "the secret is in no storage, cookie or URL");
      assert.ok(!(await everythingOnPage(page)).includes(secret), "the secret is gone from the page and its fields");
      assert.ok(!consoleMessages.some((text) => text.includes(secret)), "the secret was never logged");
      assert.ok(!reports.some((r) => r.url.includes(secret)), "the secret was never in a request URL");
    }
    // A stand-in for GitHub's secret scanning: the gateway is given this key's public half as
    // GitHub's key set, and reports are signed with it as GitHub signs them.
    const github = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const githubKeySet = JSON.stringify({
      public_keys: [{ key_identifier: "test-key-1", key: github.publicKey.export({ type: "spki", format: "pem" }), is_current: true }],
    });
    /** POSTs `tokens` to the partner endpoint as GitHub would, signed; returns the feedback. */
    async function githubReports(tokens, url) {
      const body = JSON.stringify(tokens.map((token) => ({ token, type: "clavis_client_secret", url, source: "content" })));
      const signature = sign("sha256", Buffer.from(body), { key: github.privateKey, dsaEncoding: "der" }).toString("base64");
      const response = await fetch(`${gateway.url}/v1/leaks/github`, {
        method: "POST",
        headers: { "content-type": "application/json", "github-public-key-identifier": "test-key-1", "github-public-key-signature": signature },
        body,
      });
      assert.equal(response.status, 200, await response.clone().text());
      return response.json();
    }
    /** A new credential of the demo tenant under the leak action `action`, and its secret. */
    async function leakable(name, action) {
      await demo.setPolicy({ leak_action: action }, { ifMatch: "*" });
      const issued = await demo.create({ name, scopes: ["products:read"] });
      return { credential: issued.credential, secret: issued.client_secret };
    }

    before(async () => {
      mkdirSync(shots, { recursive: true });
      process.env.GITHUB_SECRET_SCANNING_KEYS = githubKeySet;
      try {
        gateway = await startGateway(binary);
      } finally {
        delete process.env.GITHUB_SECRET_SCANNING_KEYS;
      }
      demo = new ClavisClient({ url: gateway.url, token: gateway.token }).tenant("demo");
      browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ["--no-sandbox"] });
      context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      page = await context.newPage();
      page.on("console", (message) => consoleMessages.push(message.text()));
      page.on("request", (request) => {
        if (request.url().includes("/leaks")) reports.push({ url: request.url(), method: request.method(), body: request.postData() ?? "" });
      });
      await page.goto(`${gateway.url}/console/#token=${gateway.token}`);
      await page.getByText("No credentials yet.").waitFor();
    });

    after(async () => {
      await browser?.close();
      await gateway?.stop();
    });

    for (const [policyAction, action, status, headline, advice] of [
      ["revoke", "revoked", "Revoked", "credential revoked", "Create a new credential and move the integration to it."],
      ["suspend", "suspended", "Suspended", "credential suspended", "Rotate the secret (without a grace period), update the integration, then reactivate."],
      ["notify", "none", "Active", "the credential still works", "Rotate the secret now (without a grace period)."],
    ]) {
      it(`marks a credential whose secret was reported leaked under leak_action ${policyAction}: ${status}, what happened and what to do`, async () => {
        const name = `Leaked under ${policyAction}`;
        const { credential, secret } = await leakable(name, policyAction);
        const report = await demo.reportLeak({ secret, sourceUrl: `https://github.com/acme/app/blob/main/${policyAction}.env` });
        assert.deepEqual(report, { client_id: credential.client_id, action, secret_current: true, already_reported: false });
        const { credential: now } = await demo.get(credential.client_id);
        assert.equal(now.leak?.action, action, JSON.stringify(now.leak));
        assert.equal(now.leak?.source, "admin");

        await page.getByRole("button", { name: "Refresh" }).click();
        const item = card(name);
        await item.getByText(status, { exact: true }).waitFor();
        await item.getByText("Leaked", { exact: true }).waitFor();
        const notice = item.getByRole("status").filter({ hasText: "Secret reported leaked on" });
        await notice.waitFor();
        assert.match(await notice.innerText(), new RegExp(`^Secret reported leaked on .+ by an administrator — ${headline}`));
        await notice.getByText(`What to do: ${advice}`).waitFor();
        await notice.getByRole("link", { name: `https://github.com/acme/app/blob/main/${policyAction}.env` }).waitFor();
        assert.equal(await notice.locator("time").getAttribute("datetime"), now.leak.reported_at);
        await page.screenshot({ path: join(shots, `leaked-${policyAction}-desktop.png`), fullPage: true });
      });
    }

    it("marks a secret GitHub secret scanning reported, with where GitHub found it", async () => {
      const { credential, secret } = await leakable("Found by GitHub", "revoke");
      const where = "https://github.com/octo/leaky/blob/main/config.env";
      const feedback = await githubReports([secret, "csk_live_not_one_of_ours"], where);
      assert.deepEqual(feedback, [
        { token_hash: createHash("sha256").update(secret).digest("hex"), token_type: "clavis_client_secret", label: "true_positive" },
        { token_hash: createHash("sha256").update("csk_live_not_one_of_ours").digest("hex"), token_type: "clavis_client_secret", label: "false_positive" },
      ]);
      await page.getByRole("button", { name: "Refresh" }).click();
      const item = card("Found by GitHub");
      await item.getByText("Revoked", { exact: true }).waitFor();
      const notice = item.getByRole("status").filter({ hasText: "Secret reported leaked on" });
      assert.match(await notice.innerText(), /^Secret reported leaked on .+ via GitHub secret scanning — credential revoked/);
      await notice.getByRole("link", { name: where }).waitFor();
      await notice.getByText("What to do: Create a new credential and move the integration to it.").waitFor();
      const { credential: now } = await demo.get(credential.client_id);
      assert.deepEqual({ source: now.leak?.source, action: now.leak?.action, url: now.leak?.url }, { source: "github", action: "revoked", url: where });
      await page.screenshot({ path: join(shots, "leaked-github-desktop.png"), fullPage: true });
    });

    it("presets a leaked credential's rotation (no grace, tokens ended), and the rotation clears the mark", async () => {
      const item = card("Leaked under suspend");
      const reactivate = item.getByRole("button", { name: "Reactivate" });
      assert.equal(await reactivate.isDisabled(), true, "a suspended, leaked credential waits for its rotation");
      const why = await reactivate.getAttribute("aria-describedby");
      assert.match(await page.locator(`[id="${why}"]`).innerText(), /blocked until the leaked secret is rotated away/);
      await item.getByRole("button", { name: "Rotate secret" }).click();
      await dialog().getByRole("note").getByText(/reported leaked: stop it at once/).waitFor();
      assert.equal(await dialog().getByRole("combobox", { name: "Old secret" }).inputValue(), "0");
      assert.equal(await dialog().getByRole("checkbox", { name: "End access tokens issued before now" }).isChecked(), true);
      await dialog().getByRole("button", { name: "Rotate secret" }).click();
      await dialog().getByRole("textbox", { name: "Client secret" }).waitFor();
      await page.keyboard.press("Escape");
      await dialogClosed();
      await item.getByText("Leaked", { exact: true }).waitFor({ state: "detached" });
      assert.equal(await item.getByText("Secret reported leaked on").count(), 0);
      await item.getByRole("button", { name: "Reactivate" }).click();
      await item.getByText("Active", { exact: true }).waitFor();
    });

    it("reports a leaked secret from its dialog: names the credential and the action, refreshes the list, and keeps the secret nowhere", async () => {
      const { credential, secret } = await leakable("Found in a gist", "revoke");
      await page.getByRole("button", { name: "Refresh" }).click();
      await card("Found in a gist").getByText("Active", { exact: true }).waitFor();

      await page.getByRole("button", { name: "Report a leaked secret" }).click();
      await dialog().getByRole("heading", { name: "Report a leaked secret" }).waitFor();
      const field = dialog().getByLabel("Leaked secret", { exact: true });
      assert.equal(await field.getAttribute("type"), "password", "the secret is not shown on screen");
      assert.equal(await field.getAttribute("name"), null, "a field without a name is never in a form submission");
      assert.equal(await focused(page), "input:", "the secret's field has focus");
      await field.fill(secret);
      await dialog().getByLabel("Where was it found (URL)").fill("https://gist.github.com/someone/abc123");
      await dialog().getByRole("button", { name: "Report leak" }).click();

      const answer = dialog().getByRole("status");
      await answer.getByText(`The secret belongs to “Found in a gist” (${credential.client_id}).`).waitFor();
      await answer.getByText("The credential was revoked: it can no longer get tokens.").waitFor();
      await answer.getByText("What to do: Create a new credential and move the integration to it.").waitFor();
      await page.screenshot({ path: join(shots, "leak-report-answer-desktop.png") });
      const item = card("Found in a gist");
      await item.getByText("Revoked", { exact: true }).waitFor();
      await item.getByText("Leaked", { exact: true }).waitFor();

      const posted = reports.filter((r) => r.method === "POST");
      assert.equal(posted.length, 1);
      assert.equal(posted[0].url, `${gateway.url}/v1/tenants/demo/leaks`);
      assert.deepEqual(JSON.parse(posted[0].body), { secret, source_url: "https://gist.github.com/someone/abc123" });
      const { items: trail } = await demo.credentialAudit(credential.client_id);
      const leaked = trail.find((e) => e.type === "credential.leaked");
      assert.deepEqual(leaked?.details, { source: "admin", url: "https://gist.github.com/someone/abc123", secret_current: true, action: "revoked" });

      // Reporting another starts from an empty field.
      await dialog().getByRole("button", { name: "Report another secret" }).click();
      assert.equal(await dialog().getByLabel("Leaked secret", { exact: true }).inputValue(), "");
      await page.keyboard.press("Escape");
      await dialogClosed();
      assert.equal(await focused(page), "button:Report a leaked secret", "focus returns to the opener");
      await assertSecretGone(secret);
    });

    it("says a repeat was reported before and changes nothing", async () => {
      const { credential, secret } = await leakable("Reported twice", "suspend");
      await demo.reportLeak({ secret });
      const before = (await demo.get(credential.client_id)).credential;
      await page.getByRole("button", { name: "Report a leaked secret" }).click();
      await dialog().getByLabel("Leaked secret", { exact: true }).fill(secret);
      await dialog().getByRole("button", { name: "Report leak" }).click();
      const answer = dialog().getByRole("status");
      await answer.getByText("This secret was reported before, so nothing more was done.").waitFor();
      await answer.getByText(/What to do: Rotate the secret \(without a grace period\), update the integration, then reactivate\./).waitFor();
      await dialog().getByRole("button", { name: "Close" }).click();
      await dialogClosed();
      const after = (await demo.get(credential.client_id)).credential;
      assert.equal(after.version, before.version, "a repeat changes nothing");
      const { items } = await demo.credentialAudit(credential.client_id);
      assert.equal(items.filter((e) => e.type === "credential.leaked").length, 1, "one event for one leak");
      await assertSecretGone(secret);
    });

    it("says so when no credential of this tenant was issued the secret (404): another tenant's, changing nothing there", async () => {
      const other = new ClavisClient({ url: gateway.url, token: gateway.devToken({ tenant: "other" }) }).tenant("other");
      const { credential, client_secret: secret } = await other.create({ name: "Another tenant's", scopes: ["products:read"] });
      const sent = reports.length;
      await page.getByRole("button", { name: "Report a leaked secret" }).click();
      const field = dialog().getByLabel("Leaked secret", { exact: true });
      await field.fill(secret);
      await dialog().getByRole("button", { name: "Report leak" }).click();
      await dialog().getByRole("alert").getByText(/^No credential of this tenant was issued this secret\..*Nothing was changed\.$/).waitFor();
      assert.equal(await field.inputValue(), "", "the field is emptied after the report, refused or not");
      assert.equal(reports.length, sent + 1);
      await page.screenshot({ path: join(shots, "leak-report-not-found-desktop.png") });

      // Something that is not a Clavis secret is refused before it is sent.
      await field.fill("ghp_notaclavissecret");
      await dialog().getByRole("button", { name: "Report leak" }).click();
      await dialog().getByRole("alert").getByText(/This is not a Clavis secret/).waitFor();
      assert.equal(reports.length, sent + 1, "nothing was sent");
      await page.keyboard.press("Escape");
      await dialogClosed();
      const { credential: untouched } = await other.get(credential.client_id);
      assert.equal(untouched.status, "active");
      assert.equal(untouched.leak, null);
      await assertSecretGone(secret);
    });

    it("reads credential.leaked in the audit trail as sentences", async () => {
      await card("Found in a gist").getByRole("button", { name: "Audit trail" }).click();
      const events = dialog().getByRole("list", { name: "Events, newest first" });
      const leaked = events.getByRole("listitem").filter({ hasText: "Secret reported leaked" });
      await leaked.waitFor();
      await leaked.getByText("by an administrator").waitFor();
      await leaked.getByRole("link", { name: "https://gist.github.com/someone/abc123" }).waitFor();
      await leaked.getByText("still accepted when reported").waitFor();
      await leaked.getByText("Credential revoked").waitFor();
      await events.getByText("Revoked", { exact: true }).waitFor();
      await page.screenshot({ path: join(shots, "leak-audit-desktop.png") });
      await dialog().getByRole("button", { name: "Close" }).click();
      await dialogClosed();
    });

    it("fits a 375px-wide screen: a leaked card and the report dialog", async () => {
      const narrow = await context.newPage();
      try {
        await narrow.setViewportSize({ width: 375, height: 800 });
        await narrow.goto(`${gateway.url}/console/#token=${gateway.token}`);
        const item = narrow.getByRole("listitem").filter({ has: narrow.getByRole("heading", { name: "Leaked under notify", exact: true, level: 3 }) });
        await item.getByText("Leaked", { exact: true }).waitFor();
        await item.scrollIntoViewIfNeeded();
        assert.equal(await noHorizontalScroll(narrow), true, "the list scrolls sideways at 375px");
        await narrow.screenshot({ path: join(shots, "leaked-375.png"), fullPage: true });
        await narrow.getByRole("button", { name: "Report a leaked secret" }).click();
        const panel = narrow.getByRole("dialog");
        await panel.getByLabel("Leaked secret", { exact: true }).waitFor();
        const box = await panel.boundingBox();
        assert.ok(box !== null && box.x >= 0 && box.x + box.width <= 375, JSON.stringify(box));
        assert.equal(await noHorizontalScroll(narrow), true);
        await narrow.screenshot({ path: join(shots, "leak-report-375.png") });
      } finally {
        await narrow.close();
      }
    });
  });
}
