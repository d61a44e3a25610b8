// Building the page: elements are made with text nodes only (never innerHTML), so whatever
// the API returns (a kit's name, an address) is shown as text and cannot become markup.

/** h('p', {class: 'x'}, 'text', child…): an element; null/false children are skipped. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** A labelled input: the label's `for` names the input, so screen readers and tests find it. */
let fieldCount = 0;
export function field(label, attributes = {}, hint) {
  const id = `field-${++fieldCount}`;
  const hintId = hint ? `${id}-hint` : undefined;
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('input', { id, 'aria-describedby': hintId, ...attributes }),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
}

const won = new Intl.NumberFormat('en-US');
export const money = (amount) => `${won.format(amount)} KRW`;
export const clock = (at) => (at ? new Date(at).toLocaleTimeString('en-GB') : '');
export const moment = (at) => (at ? new Date(at).toLocaleString('en-GB') : '');

/** Shows one message above the page: an error (role=alert) or a confirmation; `action`, an
 * optional button beside it. */
export function say(text, kind = 'error', action = null) {
  const messages = document.getElementById('messages');
  messages.replaceChildren(h('div', { class: kind === 'ok' ? 'message ok' : 'message' }, h('p', {}, text), action));
}

export function clearMessages() {
  document.getElementById('messages').replaceChildren();
}

/** Replaces the page's content; the new heading is focused so keyboard and screen-reader users
 * start at the top of what changed. */
export function show(title, ...content) {
  document.title = `${title} · Meal-kit shop`;
  const heading = h('h1', { tabindex: '-1' }, title);
  document.getElementById('main').replaceChildren(heading, ...content.flat().filter((c) => c !== null && c !== undefined && c !== false));
  heading.focus({ preventScroll: true });
  return heading;
}

/** Runs `action` with `button` disabled, showing any error it throws as a message (but a lost
 * session, which the app shows with a sign-in button). */
export async function busy(button, action) {
  clearMessages();
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    if (error.status !== 401) say(error.message ?? String(error));
  } finally {
    button.disabled = false;
  }
}

const shown = new WeakMap();

/**
 * Shows `data` in `container` with `build(data)`, only if it differs from what is shown: a
 * refresh that changed nothing touches nothing (screen readers announce nothing, focus stays).
 * When it did change, the element that had focus inside (found again by its `data-key`) gets it
 * back. Returns whether anything changed.
 */
export function update(container, data, build) {
  const json = JSON.stringify(data);
  if (shown.get(container) === json) return false;
  shown.set(container, json);
  const focused = container.contains(document.activeElement) ? document.activeElement.dataset.key : undefined;
  container.replaceChildren(...[build(data)].flat().filter(Boolean));
  if (focused) container.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus();
  return true;
}

/** Focuses the element whose `data-key` is `key` inside `container`, if there is one. */
export function focusKey(container, key) {
  container.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}
