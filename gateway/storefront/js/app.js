// The storefront's entry point: signs in when the issuer sent the browser back, then shows
// the page the address's #route names, and again whenever it changes.

import { SESSION_LOST } from './api.js';
import { clearMessages, h, say, show } from './dom.js';
import { sellerConsole } from './console.js';
import { myOrders, notifications, order } from './orders.js';
import { completeSignIn, current, loadConfig, signIn, signOut } from './session.js';
import { catalog, orderKit } from './shop.js';

/** #route → [page, who may see it ('customer', 'seller' or anyone when absent)]. */
const ROUTES = [
  [/^#?\/?$/, catalog],
  [/^#\/kits\/(\d+)$/, orderKit],
  [/^#\/orders$/, myOrders, 'customer'],
  [/^#\/orders\/(\d+)$/, order, 'customer'],
  [/^#\/notifications$/, notifications, ['customer', 'seller']],
  [/^#\/console$/, sellerConsole, 'seller'],
];

/** Thrown by a page that finished loading after the visitor had moved on. */
class Replaced extends Error {}

/** The page on screen: its timers and streams stop when another page replaces it, or when
 * the session is lost (then `onSessionLost` callbacks take away what needs signing in). */
class View {
  constructor() {
    this.timers = [];
    this.closing = [];
    this.lost = [];
    this.active = true;
  }

  /** `task` runs when this page stops. */
  onClose(task) {
    this.closing.push(task);
  }

  /** `task` runs if the session is lost while this page is shown. */
  onSessionLost(task) {
    this.lost.push(task);
  }

  /** Runs `task` every `ms` while this page is shown, one run at a time; an error is shown
   * once and the task keeps trying (the next run may succeed: a service came back). */
  every(ms, task) {
    let running = false;
    const timer = setInterval(async () => {
      if (running || !this.active || document.hidden) return;
      running = true;
      try {
        if ((await task()) === true) clearInterval(timer);
      } catch (error) {
        if (this.active && error.status !== 401) say(error.message);
      } finally {
        running = false;
      }
    }, ms);
    this.timers.push(timer);
  }

  /** Puts this page on screen, unless another page replaced it while it was loading. */
  show(title, ...content) {
    if (!this.active) throw new Replaced();
    return show(title, ...content);
  }

  close() {
    this.active = false;
    this.timers.forEach(clearInterval);
    this.closing.forEach((task) => task());
    this.closing = [];
  }

  /** The session is gone: stop asking, and take away what needs it (the page stays, forms
   * with what was typed included). */
  loseSession() {
    if (!this.active) return;
    this.close();
    this.lost.forEach((task) => task());
  }
}

let view = new View();

/** The person's name when the issuer gave one, else their role and id. */
export const displayName = (session) => session.name || `${session.role} ${session.id}`;

const signInButton = (text = 'Sign in again') =>
  h('button', { type: 'button', onclick: () => signIn(location.hash).catch((e) => say(e.message)) }, text);

/** A call answered 401: the session is gone. Say so once, with a way back in. */
window.addEventListener('session-lost', () => {
  signOut();
  view.loseSession();
  navigation();
  say(SESSION_LOST, 'error', signInButton());
});

function navigation() {
  const session = current();
  const links = [['#/', 'Kits']];
  if (session?.role === 'customer') links.push(['#/orders', 'My orders'], ['#/notifications', 'Notifications']);
  if (session?.role === 'seller') links.push(['#/console', 'Seller console'], ['#/notifications', 'Notifications']);
  const here = location.hash || '#/';
  document.getElementById('nav').replaceChildren(...links.map(([href, text]) =>
    h('li', {}, h('a', { href, 'aria-current': here === href ? 'page' : undefined }, text))));
  const who = document.getElementById('who');
  if (session) {
    who.replaceChildren(h('span', {}, `Signed in as ${displayName(session)}`),
      h('button', { type: 'button', onclick: () => { signOut(); location.hash = '#/'; render(); } }, 'Sign out'));
  } else {
    who.replaceChildren(h('button', { type: 'button', onclick: () => signIn(location.hash).catch((e) => say(e.message)) }, 'Sign in'));
  }
}

async function render() {
  view.close();
  view = new View();
  const mine = view;
  clearMessages();
  navigation();
  const hash = location.hash || '#/';
  const route = ROUTES.find(([pattern]) => pattern.test(hash));
  if (!route) {
    show('Not found', h('p', {}, 'There is no such page. ', h('a', { href: '#/' }, 'See the kits'), '.'));
    return;
  }
  const [pattern, page, allowed] = route;
  const session = current();
  if (allowed && !(session && [allowed].flat().includes(session.role))) {
    const who = [allowed].flat().join(' or ');
    show('Please sign in', h('p', {}, `This page is for a signed-in ${who}.`),
      h('button', { type: 'button', onclick: () => signIn(hash).catch((e) => say(e.message)) }, `Sign in as a ${who}`));
    return;
  }
  try {
    await page(mine, ...hash.match(pattern).slice(1));
  } catch (error) {
    if (error instanceof Replaced) return;
    if (error.status === 401 && view === mine) {
      // The message above the page says why, with the button.
      show('Please sign in', h('p', {}, 'This page is for people who are signed in.'));
      return;
    }
    if (!mine.active) return;
    if (error.status === 404) show('Not found', h('p', {}, error.message), h('p', {}, h('a', { href: '#/' }, 'Back to the kits')));
    else {
      show('Something went wrong', h('p', {}, 'This page could not be shown.'));
      say(error.message);
    }
  }
}

async function start() {
  try {
    await loadConfig();
    const returnTo = await completeSignIn();
    if (returnTo && returnTo !== location.hash) {
      location.hash = returnTo; // renders through hashchange
      return;
    }
  } catch (error) {
    await render();
    say(error.message);
    return;
  }
  await render();
}

window.addEventListener('hashchange', render);
// "Skip to content" moves focus to the page's content; it is not a route.
document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault();
  document.getElementById('main').focus();
});
start();
