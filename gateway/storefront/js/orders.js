// The customer's orders: the list, one order with its journey (updating by itself until the
// saga is over), and the notifications they were sent.

import { Problem, api, idempotencyKey } from './api.js';
import { busy, clock, h, moment, money, say } from './dom.js';
import { current } from './session.js';
import * as words from './words.js';

const CANCELLABLE = new Set(['PLACED', 'DELIVERY_REQUESTED', 'SHIPPING']);
const TERMINAL = new Set(['DELIVERED', 'REJECTED', 'CANCELLED']);

export async function myOrders(view) {
  const orders = await api('GET', '/orders');
  orders.sort((a, b) => b.id - a.id);
  view.show('My orders', orders.length
    ? h('ul', { class: 'rows' }, orders.map((order) =>
      h('li', { class: 'row' },
        h('a', { class: 'grow', href: `#/orders/${order.id}` }, `Order #${order.id}: ${order.qty} × ${order.productName}`),
        h('span', { class: 'price' }, money(order.amount)),
        h('span', { class: words.tone(order.status) }, words.named(words.orderStatus, order.status)))))
    : h('p', {}, 'No orders yet. ', h('a', { href: '#/' }, 'See the kits'), '.'));
}

/** The journey of an order the read side may not have heard of yet: `null` until it has. */
async function journeyOf(orderId) {
  try {
    return await api('GET', `/orders/${orderId}/journey`);
  } catch (problem) {
    if (problem instanceof Problem && problem.status === 404) return null;
    throw problem;
  }
}

export async function order(view, orderId) {
  const summary = h('dl', { class: 'card' });
  const actions = h('div', { class: 'actions' });
  const journey = h('div', { 'aria-live': 'polite' });
  const notices = h('div');
  const refreshed = h('p', { class: 'hint' });
  view.show(`Order #${orderId}`, summary, actions,
    h('h2', {}, 'Journey'), journey, refreshed,
    h('h2', {}, 'Notifications'), notices);
  let shownStatus;

  const refresh = async () => {
    // The journey (sellerpage) and the notifications (marketing) are extras: while their
    // service is down the rest of the page still works, and says what is missing.
    const [latest, steps, notifications] = await Promise.all([
      api('GET', `/orders/${orderId}`),
      settled(journeyOf(orderId)),
      settled(api('GET', `/notifications?orderId=${orderId}`)),
    ]);
    summary.replaceChildren(...describe(latest));
    if (latest.status !== shownStatus) {
      shownStatus = latest.status;
      actions.replaceChildren(...actionsFor(latest, refresh));
    }
    journey.replaceChildren(...(steps.problem
      ? [unavailable('The journey', steps.problem)]
      : journeySteps(latest, steps.value)));
    notices.replaceChildren(notifications.problem
      ? unavailable('Notifications', notifications.problem)
      : noticeList(notifications.value));
    const over = TERMINAL.has(latest.status) && (!steps.value || steps.value.finished);
    refreshed.textContent = over
      ? 'This order is complete.'
      : `Updates by itself · last checked ${clock(new Date())}`;
    return over;
  };
  if (!(await refresh())) view.every(1500, refresh);
}

/** {value} or {problem}: a call whose failure the page shows in place. */
const settled = (call) => call.then((value) => ({ value }), (problem) => ({ problem }));

const unavailable = (what, problem) =>
  h('p', { class: 'muted' }, `${what} cannot be shown just now: ${problem.message}`);

function noticeList(notifications) {
  return notifications.length
    ? h('ul', { class: 'rows' }, notifications.map((n) => h('li', { class: 'row' },
      h('span', { class: 'grow' }, n.message), h('span', { class: 'muted' }, clock(n.createdAt)))))
    : h('p', { class: 'muted' }, 'None yet.');
}

function describe(order) {
  const item = (term, ...value) => [h('dt', {}, term), h('dd', {}, ...value)];
  return [
    ...item('Kit', `${order.qty} × ${order.productName}`),
    ...item('Amount', money(order.amount)),
    ...item('Delivery address', order.address || 'Pick-up at the store'),
    ...item('Status', h('span', { class: words.tone(order.status), 'data-order-status': order.status },
      words.named(words.orderStatus, order.status))),
    order.reason ? item('Reason', words.named(words.cancelReason, order.reason)) : [],
    ...item('Placed', moment(order.placedAt ?? order.createdAt)),
  ].flat();
}

function actionsFor(order, refresh) {
  const buttons = [];
  if (order.status === 'SHIPPING') {
    const confirm = h('button', { type: 'button' }, 'Confirm receipt');
    confirm.addEventListener('click', () => busy(confirm, async () => {
      const [delivery] = await api('GET', `/deliveries?orderId=${order.id}`);
      if (!delivery) throw new Error('The delivery is not known yet; try again in a moment.');
      await api('POST', `/deliveries/${delivery.id}/complete`);
      say('Thank you: the delivery is confirmed.', 'ok');
      await refresh();
    }));
    buttons.push(confirm);
  }
  if (CANCELLABLE.has(order.status)) {
    const key = idempotencyKey();
    const cancel = h('button', { type: 'button', class: 'danger' }, 'Cancel order');
    cancel.addEventListener('click', () => busy(cancel, async () => {
      await api('POST', `/orders/${order.id}/cancel`, { key });
      say('Cancellation requested: the seller has been told, and the refund follows.', 'ok');
      await refresh();
    }));
    buttons.push(cancel);
  }
  return buttons;
}

function journeySteps(order, journey) {
  if (order.status === 'REJECTED') {
    return [h('p', {}, 'The payment was not approved, so the order was not placed and nothing else happened.')];
  }
  if (!journey) return [h('p', { class: 'muted' }, 'The journey appears in a moment.')];
  const done = journey.steps.map((step) => h('li', {},
    h('strong', {}, words.named(words.journeyStep, step.step)),
    step.detail ? ` (${step.detail.toLowerCase().replaceAll('_', ' ')})` : '',
    ' ', h('span', { class: 'when' }, `${clock(step.at)} · ${step.service}`)));
  const waiting = journey.pending.map((step) => h('li', { class: 'pending' },
    h('strong', {}, `${words.named(words.journeyStep, step.step)}: waiting`),
    ' ', h('span', { class: 'when' }, `on ${words.named(words.waitingOn, step.waitingOn)} for ${Math.round(step.waitingSeconds)} s`)));
  return [h('ol', { class: 'journey', 'aria-label': 'Journey' }, done, waiting)];
}

export async function notifications(view) {
  const list = await api('GET', '/notifications');
  const customer = current()?.role === 'customer';
  view.show('Notifications', list.length
    ? h('ul', { class: 'rows' }, list.map((n) => h('li', { class: 'row' },
      h('span', { class: 'grow' }, n.message),
      customer ? h('a', { href: `#/orders/${n.orderId}` }, `Order #${n.orderId}`) : `Order #${n.orderId}`,
      h('span', { class: 'muted' }, moment(n.createdAt)))))
    : h('p', {}, 'No notifications yet.'));
}
