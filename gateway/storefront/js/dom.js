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

/** Shows one message above the page: an error (role=alert) or a confirmation. */
export function say(text, kind = 'error') {
  const messages = document.getElementById('messages');
  messages.replaceChildren(h('p', { class: kind === 'ok' ? 'message ok' : 'message' }, text));
}

export function clearMessages() {
  document.getElementById('messages').replaceChildren();
}

/** Replaces the page's content; the new heading is focused so keyboard and screen-reader users
 * start at the top of what changed. */
export function show(title, ...content) {
  document.title = `${title} · Meal-kit shop`;
  const heading = h('h1', { tabindex: '-1' }, title);
  document.getElementById('main').replaceChildren(heading, ...content.flat());
  heading.focus({ preventScroll: true });
  return heading;
}

/** Runs `action` with `button` disabled, showing any error it throws as a message. */
export async function busy(button, action) {
  clearMessages();
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    say(error.message ?? String(error));
  } finally {
    button.disabled = false;
  }
}
