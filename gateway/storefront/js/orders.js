// The customer's orders: the list, one order with its journey (following it live until the
// saga is over), and the notifications they were sent.

import { Problem, api, idempotencyKey } from './api.js';
import { busy, clock, h, moment, money, say, update } from './dom.js';
import { follow } from './live.js';
import { current } from './session.js';
import * as words from './words.js';

const CANCELLABLE = new Set(['PLACED', 'DELIVERY_REQUESTED', 'SHIPPING']);
const TERMINAL = new Set(['DELIVERED', 'REJECTED', 'CANCELLED']);

export async function myOrders(view) {
  // A declined payment placed nothing: it is no order to list.
  const orders = (await api('GET', '/orders')).filter((order) => order.status !== 'REJECTED');
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

/** What of a journey the page shows: not how long a step has waited, which changes every
 * second (the page shows since when). */
const shownOf = (journey) => journey && {
  ...journey,
  pending: journey.pending.map(({ waitingSeconds, ...step }) => step),
};

/** {value} or {problem}: a call whose failure the page shows in place. */
const settled = (call) => call.then((value) => ({ value }), (problem) => ({ problem }));

const unavailable = (what, problem) =>
  h('p', { class: 'muted' }, `${what} cannot be shown just now: ${problem.message}`);

export async function order(view, orderId) {
  const summary = h('dl', { class: 'card' });
  const actions = h('div', { class: 'actions' });
  const journey = h('div', { 'aria-live': 'polite' });
  const notices = h('div');
  const hint = h('p', { class: 'hint' });
  view.show(`Order #${orderId}`, summary, actions,
    h('h2', {}, 'Journey'), journey, hint,
    h('h2', {}, 'Notifications'), notices);
  const seen = { order: null, journey: null };

  const showOrder = (latest) => {
    seen.order = latest;
    update(summary, latest, describe);
    // Redrawn only when what can be done changes (not at each step), so a button never moves
    // under a finger.
    const can = { confirm: latest.status === 'SHIPPING', cancel: CANCELLABLE.has(latest.status) };
    update(actions, can, () => actionsFor(latest, actions, () => Promise.all([loadOrder(), loadNotices()])));
  };
  const showJourney = (steps) => {
    if (!steps.problem) seen.journey = steps.value;
    update(journey, steps.problem ? { problem: steps.problem.message } : shownOf(steps.value), () => (steps.problem
      ? unavailable('The journey', steps.problem)
      : journeySteps(seen.order, steps.value)));
  };
  const over = () => TERMINAL.has(seen.order?.status) && (!seen.journey || seen.journey.finished);
  const showOver = () => {
    if (over()) hint.textContent = 'This order is complete.';
    return over();
  };
  async function loadOrder() {
    showOrder(await api('GET', `/orders/${orderId}`));
    showOver();
  }
  // The journey (the read side) and the notifications (marketing) are extras: while their
  // service is down the rest of the page still works, and says what is missing.
  const loadNotices = async () => {
    const list = await settled(api('GET', `/notifications?orderId=${orderId}`));
    update(notices, list.problem ? { problem: list.problem.message } : list.value, () => (list.problem
      ? unavailable('Notifications', list.problem)
      : noticeList(list.value)));
  };
  const loadAll = async () => {
    const [latest, steps] = await Promise.all([api('GET', `/orders/${orderId}`), settled(journeyOf(orderId)), loadNotices()]);
    showOrder(latest);
    showJourney(steps);
    if (!showOver()) hint.textContent = `Updates by itself · last checked ${clock(new Date())}`;
  };
  // A step on the journey: shown at once; the order's own status and the notifications follow
  // (each service hears of the step on its own, so the order is asked again until it agrees).
  const onJourney = async (steps) => {
    showJourney({ value: steps });
    await Promise.all([loadOrder(), loadNotices()]);
    for (let tries = 0; tries < 5 && view.active && seen.order.status !== steps.status && !TERMINAL.has(seen.order.status); tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await loadOrder();
    }
  };

  view.onSessionLost(() => {
    actions.replaceChildren();
    hint.textContent = 'Sign in again to follow this order.';
  });
  await loadAll();
  if (over() || seen.order.status === 'REJECTED') return;
  follow(view, `/orders/${orderId}/journey/events`, {
    onEvent: (event, data) => (event === 'journey' ? onJourney(data) : null),
    poll: loadAll,
    pollEvery: 1500,
    finished: over,
    onState: (mode) => {
      if (!over()) hint.textContent = mode === 'live' ? 'Updates live as your order moves.' : `Updates by itself · last checked ${clock(new Date())}`;
    },
  });
}

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

/** The buttons an order's status allows; cancelling asks first. */
function actionsFor(order, container, reload) {
  const buttons = [];
  if (order.status === 'SHIPPING') {
    const confirm = h('button', { type: 'button', 'data-key': 'confirm' }, 'Confirm receipt');
    confirm.addEventListener('click', () => busy(confirm, async () => {
      const [delivery] = await api('GET', `/deliveries?orderId=${order.id}`);
      if (!delivery) throw new Error('The delivery is not known yet; try again in a moment.');
      await api('POST', `/deliveries/${delivery.id}/complete`);
      say('Thank you: the delivery is confirmed.', 'ok');
      await reload();
    }));
    buttons.push(confirm);
  }
  if (CANCELLABLE.has(order.status)) {
    const cancel = h('button', { type: 'button', class: 'danger', 'data-key': 'cancel' }, 'Cancel order');
    cancel.addEventListener('click', () => askToCancel(order, container, buttons, reload));
    buttons.push(cancel);
  }
  return buttons;
}

/** "Cancel this order?" in place of the buttons: yes cancels, no puts them back. */
function askToCancel(order, container, buttons, reload) {
  const key = idempotencyKey();
  const yes = h('button', { type: 'button', class: 'danger', 'data-key': 'yes' }, 'Yes, cancel the order');
  const no = h('button', { type: 'button', class: 'secondary', 'data-key': 'no' }, 'Keep the order');
  const question = h('div', { class: 'confirm', role: 'group', 'aria-label': 'Cancel this order?' },
    h('p', {}, `Cancel order #${order.id}? The seller is told at once and your ${money(order.amount)} is refunded.`),
    h('div', { class: 'actions' }, yes, no));
  no.addEventListener('click', () => {
    container.replaceChildren(...buttons);
    buttons.find((b) => b.dataset.key === 'cancel')?.focus();
  });
  yes.addEventListener('click', () => busy(yes, async () => {
    try {
      await api('POST', `/orders/${order.id}/cancel`, { key });
      say('Cancellation requested: the seller has been told, and the refund follows.', 'ok');
    } finally {
      // Refused or not, the page shows what stands now (a service may be down).
      await reload().catch(() => {});
    }
  }));
  container.replaceChildren(question);
  yes.focus();
}

/** What a step's detail says to a shopper (a cancellation's reason, what a notification was
 * about); a detail with no words stays hidden, never shown as a code. */
function detailOf(step) {
  const known = step.step === 'CANCELLATION_REQUESTED'
    ? words.cancelReason[step.detail]?.toLowerCase()
    : ['CUSTOMER_NOTIFIED', 'SELLER_NOTIFIED'].includes(step.step) ? words.notice[step.detail] : undefined;
  return known ? `: ${known}` : '';
}

function journeySteps(order, journey) {
  if (order?.status === 'REJECTED') {
    return [h('p', {}, 'The payment was not approved, so the order was not placed and nothing else happened.')];
  }
  if (!journey) return [h('p', { class: 'muted' }, 'The journey appears in a moment.')];
  const done = journey.steps.map((step) => h('li', { class: words.failedStep.has(step.step) ? 'failed' : undefined },
    h('strong', {}, words.named(words.journeyStep, step.step)), detailOf(step),
    ' ', h('span', { class: 'when' }, clock(step.at))));
  const waiting = journey.pending.map((step) => h('li', { class: 'pending' },
    h('strong', {}, `${words.named(words.journeyStep, step.step)}: next`),
    ' ', h('span', { class: 'when' }, `${words.named(words.waitingOn, step.waitingOn)}, since ${clock(step.since)}`)));
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
