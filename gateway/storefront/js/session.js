// Who is signed in: the OAuth 2.0 authorization-code grant with PKCE (RFC 7636), against the
// issuer /storefront.json names (the dev issuer's form locally, the OIDC issuer elsewhere).
// The token lives in sessionStorage: this tab only, gone when it closes.

const SESSION = 'mealkit.session';
const PENDING = 'mealkit.signing-in';

let config;

export async function loadConfig() {
  const answer = await fetch('/storefront.json');
  if (!answer.ok) throw new Error('The shop could not load its settings; reload the page.');
  config = await answer.json();
}

/** {token, role, id, name, expiresAt} or null (`name`: the issuer's display name, if any). */
export function current() {
  const session = JSON.parse(sessionStorage.getItem(SESSION) ?? 'null');
  if (session && session.expiresAt <= Date.now()) {
    sessionStorage.removeItem(SESSION);
    return null;
  }
  return session;
}

export function signOut() {
  sessionStorage.removeItem(SESSION);
}

const redirectUri = () => `${location.origin}/`;

function randomText(bytes) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '');
}

/** Leaves for the issuer's login; comes back to `returnTo` (a #route) once signed in. */
export async function signIn(returnTo) {
  if (!crypto.subtle) {
    throw new Error('Signing in needs a secure page: open the shop over https, or on localhost.');
  }
  const verifier = randomText(32);
  const state = randomText(16);
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, returnTo }));
  const url = new URL(config.authorizeUrl, location.origin);
  const query = {
    response_type: 'code', client_id: config.clientId, redirect_uri: redirectUri(), state,
    code_challenge: challenge, code_challenge_method: 'S256',
  };
  if (config.scope) query.scope = config.scope;
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  location.assign(url);
}

/** Finishes a sign-in when the issuer sent the browser back with a code; returns the route to
 * go to, or null when this page load is not such a return. */
export async function completeSignIn() {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  const failure = params.get('error');
  if (!code && !failure) return null;
  history.replaceState(null, '', '/');
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null');
  sessionStorage.removeItem(PENDING);
  // Our own sentence: the address's error text is anybody's to write.
  if (failure === 'access_denied') throw new Error('Signing in was cancelled.');
  if (failure) throw new Error('Signing in did not work; please try again.');
  if (!pending || pending.state !== params.get('state')) {
    throw new Error('That sign-in was not started here (or it was started twice); please sign in again.');
  }
  const answer = await fetch(new URL(config.tokenUrl, location.origin), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code, redirect_uri: redirectUri(),
      client_id: config.clientId, code_verifier: pending.verifier,
    }),
  }).catch(() => null);
  const grant = answer && (await answer.json().catch(() => null));
  if (!answer?.ok || !grant?.access_token) {
    throw new Error(`Signing in did not work${grant?.message ? `: ${grant.message}` : ''}; please try again.`);
  }
  // The claims are UTF-8 (a name may be 김민수): atob gives bytes, not text.
  const bytes = Uint8Array.from(atob(grant.access_token.split('.')[1].replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0));
  const claims = JSON.parse(new TextDecoder().decode(bytes));
  const roles = [claims[config.roleClaim]].flat();
  const role = ['customer', 'seller', 'courier', 'admin'].find((r) => roles.includes(r)) ?? roles[0];
  sessionStorage.setItem(SESSION, JSON.stringify({
    token: grant.access_token,
    role,
    id: Number(claims[config.idClaim]),
    name: typeof claims[config.nameClaim] === 'string' ? claims[config.nameClaim] : null,
    expiresAt: Date.now() + (grant.expires_in ?? 3600) * 1000 - 30_000,
  }));
  return pending.returnTo || '#/';
}
