// The one way the page calls the API: the signed-in person's token on every call, JSON in and
// out, and every refusal turned into a sentence a person can act on.

import { current } from './session.js';
import { fieldNames } from './words.js';

/** An answer that was not a success: `status` (0: no answer), the API's `code`, a message. */
export class Problem extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A fresh Idempotency-Key: a retried click on "Place order" or "Cancel" is one change. */
export function idempotencyKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** `headers` plus the signed-in person's token, if any. */
export function sessionHeaders(headers = {}) {
  const session = current();
  return session ? { ...headers, authorization: `Bearer ${session.token}` } : headers;
}

/** What the page says when the API no longer knows who is calling (the session expired, or
 * was signed out elsewhere). The app shows it with a sign-in button ('session-lost'). */
export const SESSION_LOST = 'Your session has ended, so nothing was changed. Sign in again to carry on.';

export async function api(method, path, { body, key } = {}) {
  const headers = sessionHeaders({ accept: 'application/json' });
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (key) headers['idempotency-key'] = key;
  let answer;
  try {
    answer = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new Problem(0, 'unreachable', 'The shop could not be reached. Check your connection and try again.');
  }
  const text = await answer.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (answer.ok) return data;
  if (answer.status === 401) {
    window.dispatchEvent(new CustomEvent('session-lost'));
    throw new Problem(401, data?.error ?? 'unauthenticated', SESSION_LOST);
  }
  throw new Problem(answer.status, data?.error ?? `http_${answer.status}`, sentence(answer, data));
}

/** The API's own message when it sent one (they are written for people, but name fields as
 * the JSON does: those become words), else one of ours. */
function sentence(answer, data) {
  const retry = answer.headers.get('retry-after');
  const message = typeof data?.message === 'string' && data.message
    ? data.message.replace(/^([a-zA-Z]+)(?= must\b)/, (word) => (Object.hasOwn(fieldNames, word) ? fieldNames[word] : word))
    : answer.status >= 500
      ? 'Something went wrong on our side'
      : `The request was refused (${answer.status})`;
  const capital = message.charAt(0).toUpperCase() + message.slice(1);
  const ending = /[.!?]$/.test(capital) ? '' : '.';
  if (retry && !/again/i.test(capital)) return `${capital}${ending} Try again in ${retry} seconds.`;
  return `${capital}${ending}`;
}
