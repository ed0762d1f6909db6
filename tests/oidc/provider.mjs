// A real OpenID Connect provider (the oidc-provider package) for the SSO tests, on loopback only.
//
//   node provider.mjs <port> <clients.json>
//
// clients.json: [{"client_id", "client_secret", "redirect_uris": [...]}, ...]. Prints "ready <issuer>"
// once it listens. Accounts need no password: the sign-in page asks for an account name, which is
// "subject" or "subject|email". The email is <subject>@example.com unless given, and it counts as
// verified unless the subject starts with "unverified". Never deploy this: it signs anyone in.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const clients = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const issuer = `http://127.0.0.1:${port}`;

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const emails = new Map(); // subject -> email given at sign-in

function accountFor(sub) {
  return {
    accountId: sub,
    async claims() {
      return {
        sub,
        email: emails.get(sub) || `${sub}@example.com`,
        email_verified: !sub.startsWith('unverified'),
        name: `Test ${sub}`,
      };
    },
  };
}

// First-party test clients: every grant is given without a consent screen.
async function loadExistingGrant(ctx) {
  const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
  if (grantId) return ctx.oidc.provider.Grant.find(grantId);
  const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
  grant.addOIDCScope('openid email profile');
  await grant.save();
  return grant;
}

const signingKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({ ...c, grant_types: ['authorization_code'], response_types: ['code'] })),
  jwks: { keys: [{ ...signingKey, kid: 'test-key', use: 'sig', alg: 'RS256' }] },
  findAccount: async (_ctx, id) => accountFor(id),
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  conformIdTokenClaims: false,
  loadExistingGrant,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>Error</title><h1 id="op-error">${escape(out.error)}</h1><p>${escape(out.error_description || '')}</p>`;
  },
});

// The live test app listens on a port chosen at run time: allow a loopback redirect on any port when
// its path is that of a registered redirect URI (as RFC 8252 does for native apps).
const allowed = provider.Client.prototype.redirectUriAllowed;
provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
  if (allowed.call(this, value)) return true;
  const url = URL.parse(value);
  return Boolean(url && url.protocol === 'http:' && url.hostname === '127.0.0.1'
    && this.redirectUris.some((r) => URL.parse(r)?.pathname === url.pathname && !url.search && !url.hash));
};

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 10000) reject(new Error('too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

async function interaction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (req.method === 'POST') {
    const form = await readForm(req);
    const login = (form.get('login') || '').trim();
    const [sub, email] = login.split('|');
    if (!sub) throw new Error('enter an account name');
    if (email) emails.set(sub, email);
    await provider.interactionFinished(req, res, { login: { accountId: sub } }, { mergeWithLastSubmission: false });
    return;
  }
  if (details.prompt.name !== 'login') {
    // Consent is given by loadExistingGrant; any other prompt finishes with what the session has.
    await provider.interactionFinished(req, res, { consent: {} }, { mergeWithLastSubmission: true });
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>Test identity provider</title>
<h1>Test identity provider</h1>
<form id="op-login-form" method="post" action="/interaction/${escape(uid)}">
<label for="login">Account</label> <input id="login" name="login" autofocus>
<button type="submit" id="op-submit">Sign in</button></form>`);
}

const handler = provider.callback();
const server = http.createServer((req, res) => {
  const match = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(req.url.split('?')[0]);
  if (!match) {
    handler(req, res);
    return;
  }
  interaction(req, res, match[1]).catch((err) => {
    res.writeHead(400, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><h1 id="op-error">${escape(err.message)}</h1>`);
  });
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
