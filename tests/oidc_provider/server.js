// One real OpenID Provider (panva/oidc-provider) for Tra's tests, configured by a JSON file.
//
//   node tests/oidc_provider/server.js <config.json>
//
// Prints exactly one line `READY <issuer>` on stdout once it listens (everything else goes to
// stderr), and exits when its stdin closes, so a test run that dies takes its providers with it.
// tests/oidc_ops.py writes the config and starts one process per issuer; README.md has the format.

import { generateKeyPair } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { promisify } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const TITLES = {
  citizen: 'ThaID-like test provider',
  business: 'Business test provider (juristic person representatives)',
  investor: 'Investor test provider',
};
const PROFILE_CLAIMS = ['name', 'given_name', 'family_name'];
const MAX_FORM_BYTES = 16 * 1024;

class BadInput extends Error {}

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title></head>
<body>
${body}
</body>
</html>`;
}

function readConfig(path) {
  const config = JSON.parse(readFileSync(path, 'utf8'));
  if (!TITLES[config.kind]) {
    throw new Error(`config.kind must be one of ${Object.keys(TITLES).join(', ')}, not ${config.kind}`);
  }
  if (!Array.isArray(config.claims) || config.claims.length === 0) {
    throw new Error('config.claims must list the claims this provider releases');
  }
  if (!config.clients?.length || !config.accounts || !Object.keys(config.accounts).length) {
    throw new Error('config.clients and config.accounts must not be empty');
  }
  const allowed = new Set(['sub', ...config.claims]);
  for (const [id, claims] of Object.entries(config.accounts)) {
    const extra = Object.keys(claims).filter((claim) => !allowed.has(claim));
    if (extra.length) {
      throw new Error(`account ${id} carries claims not in config.claims: ${extra.join(', ')}`);
    }
  }
  return config;
}

// Scope names are claim names (one scope per claim, as ThaID does), plus `profile` and `email`.
function scopeTable(claims) {
  const table = { openid: ['sub'] };
  const profile = PROFILE_CLAIMS.filter((claim) => claims.includes(claim));
  if (profile.length) {
    table.profile = profile;
  }
  for (const claim of claims) {
    table[claim] = [claim];
  }
  return table;
}

async function signingKey() {
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'test-op-rs256' };
}

async function readForm(req) {
  const type = req.headers['content-type'] || '';
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw new BadInput('expected an application/x-www-form-urlencoded form');
  }
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) {
      throw new BadInput('form too large');
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function loginPage(config, details) {
  const title = config.title || TITLES[config.kind];
  const buttons = Object.entries(config.accounts)
    .map(([id, claims]) => `<li><button type="submit" name="account" value="${escapeHtml(id)}">`
      + `${escapeHtml(claims.name || id)}</button></li>`)
    .join('\n');
  return page(title, `<h1>${escapeHtml(title)}</h1>
<p>Client <code>${escapeHtml(details.params.client_id)}</code> asks for:
<code>${escapeHtml(details.params.scope || '')}</code>. Sign in as:</p>
<form method="post" action="/interaction/${escapeHtml(details.uid)}">
<ul>
${buttons}
</ul>
<p><button type="submit" name="cancel" value="1">Cancel</button></p>
</form>`);
}

// The sign-in page at the interaction URL: one button per account, and one to cancel.
function interactions(provider, config) {
  return async (ctx, next) => {
    const match = /^\/interaction\/([\w-]+)$/.exec(ctx.path);
    if (!match) {
      return next();
    }
    try {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.uid !== match[1]) {
        throw new BadInput('this interaction is not the one in progress');
      }
      if (ctx.method === 'GET') {
        ctx.type = 'html';
        ctx.body = loginPage(config, details);
        return undefined;
      }
      if (ctx.method !== 'POST') {
        ctx.status = 405;
        ctx.body = page('Method not allowed', '<h1>Method not allowed</h1>');
        return undefined;
      }
      const form = await readForm(ctx.req);
      let result;
      if (form.get('cancel')) {
        result = { error: 'access_denied', error_description: 'End-User cancelled the sign-in' };
      } else {
        const account = form.get('account');
        if (!account || !Object.hasOwn(config.accounts, account)) {
          throw new BadInput(`unknown account: ${account}`);
        }
        result = { login: { accountId: account } };
      }
      const location = await provider.interactionResult(ctx.req, ctx.res, result, {
        mergeWithLastSubmission: false,
      });
      ctx.status = 303;
      ctx.redirect(location);
      return undefined;
    } catch (error) {
      if (error instanceof BadInput || error instanceof errors.OIDCProviderError) {
        const status = error instanceof BadInput ? 400 : error.statusCode || 400;
        ctx.status = status;
        ctx.type = 'html';
        ctx.body = page('Sign-in error', `<h1>Sign-in error</h1><p>${escapeHtml(error.message)}</p>`
          + (error.error_description ? `<p>${escapeHtml(error.error_description)}</p>` : ''));
        return undefined;
      }
      throw error;
    }
  };
}

async function main() {
  const configPath = process.argv[2];
  if (!configPath) {
    throw new Error('usage: node server.js <config.json>');
  }
  const config = readConfig(configPath);
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port || 0, '127.0.0.1', resolve);
  });
  const issuer = config.issuer || `http://127.0.0.1:${server.address().port}`;
  const prefix = config.cookie_prefix || `op_${config.kind}`;
  const title = config.title || TITLES[config.kind];

  const provider = new Provider(issuer, {
    clients: config.clients.map((client) => ({
      client_id: client.client_id,
      client_secret: client.client_secret,
      redirect_uris: client.redirect_uris,
      post_logout_redirect_uris: client.post_logout_redirect_uris || [],
      // client_secret_basic and client_secret_post are interchangeable in oidc-provider 9.
      token_endpoint_auth_method: client.token_endpoint_auth_method || 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    })),
    claims: scopeTable(config.claims),
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    responseTypes: ['code'],
    scopes: ['openid'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    jwks: { keys: [await signingKey()] },
    cookies: {
      names: {
        session: `${prefix}_session`,
        interaction: `${prefix}_interaction`,
        resume: `${prefix}_resume`,
      },
      keys: [config.cookie_key || `${prefix}-${Math.random()}-${Date.now()}`],
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        // oidc-provider always asks the signed-in user to confirm; this page does it with one
        // form that a browser submits by itself (inline script) and a client without JavaScript
        // submits with its one button.
        async logoutSource(ctx, form) {
          ctx.body = page(`${title}: sign out`, `<h1>${escapeHtml(title)}</h1>
${form.replace('</form>', '<input type="hidden" name="logout" value="yes"/>'
    + '<button type="submit">Sign out</button></form>')}
<script>document.forms[0].submit()</script>`);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = page(`${title}: signed out`, `<h1>${escapeHtml(title)}</h1><p>Signed out.</p>`);
        },
      },
    },
    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    async findAccount(ctx, id) {
      if (!Object.hasOwn(config.accounts, id)) {
        return undefined;
      }
      return {
        accountId: id,
        async claims() {
          return { sub: id, ...config.accounts[id] };
        },
      };
    },
    // Consent is the portal's business: grant whatever known scopes and claims the client asks for.
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
      let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      if (!grant) {
        grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
      }
      grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
      if (oidc.requestParamClaims.size) {
        grant.addOIDCClaims([...oidc.requestParamClaims]);
      }
      await grant.save();
      return grant;
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Error', `<h1>${escapeHtml(title)}: error</h1><p><code>${escapeHtml(out.error)}</code>`
        + ` ${escapeHtml(out.error_description || '')}</p>`);
    },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 600,
      IdToken: 3600,
      Interaction: 3600,
      Session: 86400,
      Grant: 86400,
    },
  });
  provider.use(interactions(provider, config));
  server.on('request', provider.callback());

  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent holds our stdin open; when it goes (even killed), so do we.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();

  process.stdout.write(`READY ${issuer}\n`);
}

main().catch((error) => {
  console.error(`oidc test provider failed to start: ${error.stack || error}`);
  process.exit(1);
});
