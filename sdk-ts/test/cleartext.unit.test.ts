// Clients refuse cleartext: an `http://` base URL to a host that is not loopback is refused by
// the management client and the token source alike, unless the caller opts in explicitly.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ClavisClient, ClavisSdkError, ConfigError, TokenSource } from "../src/index.js";
import type { Fetch } from "../src/index.js";

const unused: Fetch = () => Promise.reject(new Error("no request expected"));

const makers: Record<string, (url: string, allowInsecureHttp?: boolean) => unknown> = {
  ClavisClient: (url, allowInsecureHttp) =>
    new ClavisClient({ url, token: "t", fetch: unused, ...(allowInsecureHttp === undefined ? {} : { allowInsecureHttp }) }),
  TokenSource: (url, allowInsecureHttp) =>
    new TokenSource({ url, clientId: "cid_x", clientSecret: "s", fetch: unused, ...(allowInsecureHttp === undefined ? {} : { allowInsecureHttp }) }),
  "TokenSource (tokenUrl)": (url, allowInsecureHttp) =>
    new TokenSource({
      url: "https://api.example.com",
      tokenUrl: url,
      clientId: "cid_x",
      clientSecret: "s",
      fetch: unused,
      ...(allowInsecureHttp === undefined ? {} : { allowInsecureHttp }),
    }),
};

for (const [name, make] of Object.entries(makers)) {
  describe(`${name} and cleartext`, () => {
    for (const url of ["http://example.com", "http://EXAMPLE.com:8080/prod", "http://10.0.0.5:3000", "http://[::ffff:127.0.0.1]", "http://localhost.example.com"]) {
      it(`refuses ${url}, naming the host and the opt-in`, () => {
        assert.throws(
          () => make(url),
          (error: unknown) => {
            assert.ok(error instanceof ConfigError && error instanceof ClavisSdkError, String(error));
            assert.equal(error.code, "invalid_configuration");
            assert.match(error.message, new RegExp(new URL(url).hostname.replace(/[[\].]/g, "\\$&")));
            assert.match(error.message, /allowInsecureHttp: true/);
            return true;
          },
        );
      });
    }

    for (const url of ["http://127.0.0.1:3000", "http://localhost:3000", "http://[::1]:3000", "http://127.5.6.7", "http://LOCALHOST", "http://[0:0:0:0:0:0:0:1]:3000", "http://127.1", "https://example.com", "https://10.0.0.5:8443/prod"]) {
      it(`accepts ${url}`, () => {
        assert.doesNotThrow(() => make(url));
      });
    }

    it("accepts http://example.com with allowInsecureHttp: true, and not with false", () => {
      assert.doesNotThrow(() => make("http://example.com", true));
      assert.throws(() => make("http://example.com", false), ConfigError);
    });
  });
}

describe("TokenSource.fromEnv and cleartext", () => {
  const env = { CLAVIS_URL: "http://example.com", CLAVIS_CLIENT_ID: "cid_x", CLAVIS_CLIENT_SECRET: "s" };

  it("refuses a cleartext CLAVIS_URL unless the options opt in", () => {
    assert.throws(() => TokenSource.fromEnv(env, { fetch: unused }), /example\.com.*allowInsecureHttp/);
    assert.equal(TokenSource.fromEnv(env, { fetch: unused, allowInsecureHttp: true }).tokenUrl, "http://example.com/oauth/token");
  });
});
