// The peer in `make bench-http`: panva's oidc-provider (9.x) as an OAuth 2.0 client_credentials
// token endpoint, configured to issue what Clavis issues for the same request:
//   - clients authenticate with client_secret_basic; their secrets are stored in plaintext (the
//     provider compares them as given, where Clavis verifies an argon2id hash);
//   - the in-memory adapter (the provider's default; nothing is written for JWT access tokens);
//   - RS256 JWT access tokens, header `typ: at+jwt` (RFC 9068), one hour, for one resource
//     server (the `resourceIndicators` feature's default resource), signed with a 2048-bit RSA
//     key generated at start.
//
// Environment: PEER_PORT (default 3918), PEER_CLIENTS ("id:secret,id:secret"; default one client
// bench:bench-secret), PEER_SCOPE (default "bench:read"). Once listening, prints the token
// endpoint's URL on stdout, one line.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.env.PEER_PORT ?? 3918);
const scope = process.env.PEER_SCOPE ?? 'bench:read';
const resource = 'urn:clavis:bench';
const issuer = `http://127.0.0.1:${port}`;

const clients = (process.env.PEER_CLIENTS ?? 'bench:bench-secret').split(',').map((pair) => {
  const at = pair.indexOf(':');
  if (at < 1 || at === pair.length - 1) throw new Error(`PEER_CLIENTS: "${pair}" is not id:secret`);
  return {
    client_id: pair.slice(0, at),
    client_secret: pair.slice(at + 1),
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope,
  };
});

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: scope.split(' '),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
    revocation: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        if (indicator !== resource) throw new Provider.errors.InvalidTarget();
        return {
          scope,
          audience: resource,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${issuer}${provider.pathFor('token')}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
