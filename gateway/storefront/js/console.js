// The seller console: their kits (register, edit), their orders (ship, with where to), and
// their cancellations with each one's progress. Orders and cancellations come from the seller
// page (the CQRS read side); the console follows its live stream and reads them again only
// when one of them changed, and redraws only what changed, keeping the keyboard's place.

import { api } from './api.js';
import { busy, clock, field, focusKey, h, money, say, update } from './dom.js';
import { follow } from './live.js';
import { current } from './session.js';
import * as words from './words.js';

export async function sellerConsole(view) {
  const seller = current();
  const kits = h('div');
  const orders = h('div', { 'aria-live': 'polite' });
  const cancellations = h('div', { 'aria-live': 'polite' });
  const hint = h('p', { class: 'hint' });
  const showKits = async () => {
    // A kit being edited is left alone.
    if (kits.querySelector('form')) return;
    const list = await api('GET', `/products?sellerId=${seller.id}&limit=100`);
    update(kits, list, () => kitList(list, kits, showKits));
  };
  view.show(`Seller console · ${seller.name || `seller ${seller.id}`}`,
    h('div', { class: 'grid2' },
      h('section', { 'aria-labelledby': 'register-kit' }, h('h2', { id: 'register-kit' }, 'Register a kit'), registerForm(showKits)),
      h('section', { 'aria-labelledby': 'your-kits' }, h('h2', { id: 'your-kits' }, 'Your kits'), kits)),
    h('section', { 'aria-labelledby': 'your-orders' }, h('h2', { id: 'your-orders' }, 'Orders'), orders),
    h('section', { 'aria-labelledby': 'your-cancellations' }, h('h2', { id: 'your-cancellations' }, 'Cancellations'), cancellations),
    hint);
  const refresh = async () => {
    const [placed, cancelled] = await Promise.all([
      api('GET', `/sellers/${seller.id}/orders?limit=50`),
      api('GET', `/sellers/${seller.id}/cancellations?limit=50`),
      // Stock moves with every order.
      showKits(),
    ]);
    update(orders, placed.items, () => orderList(placed.items, refresh));
    update(cancellations, cancelled.items, () => cancellationList(cancelled.items));
  };
  await refresh();
  // Changes often come several at once (an order's steps): read once for a burst.
  let pending = null;
  const soon = () => {
    pending ??= setTimeout(() => {
      pending = null;
      if (view.active) refresh().catch((error) => error.status !== 401 && say(error.message));
    }, 100);
  };
  view.onClose(() => clearTimeout(pending));
  follow(view, `/sellers/${seller.id}/events`, {
    onEvent: (event) => (event === 'changed' ? soon() : null),
    poll: async () => {
      await refresh();
      hint.textContent = `Updates by itself · last checked ${clock(new Date())}`;
    },
    pollEvery: 2000,
    onState: (mode) => {
      if (mode === 'live') {
        hint.textContent = 'Updates live as orders come in.';
        soon(); // what changed while the stream was down
      }
    },
  });
  view.onSessionLost(() => {
    hint.textContent = 'Sign in again to see new orders.';
  });
}

function kitFields(kit = {}) {
  return [
    field('Name', { name: 'name', type: 'text', required: true, maxlength: 100, value: kit.name }),
    field('Price (KRW)', { name: 'price', type: 'number', min: 1, step: 1, required: true, value: kit.price }),
    field('Stock', { name: 'stock', type: 'number', min: 0, step: 1, required: true, value: kit.stock }),
  ];
}

function kitOf(form) {
  const data = new FormData(form);
  return { name: data.get('name').trim(), price: Number(data.get('price')), stock: Number(data.get('stock')) };
}

function registerForm(done) {
  const submit = h('button', { type: 'submit' }, 'Register kit');
  const form = h('form', { 'aria-label': 'Register a kit' }, kitFields(), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, async () => {
      const kit = await api('POST', '/products', { body: kitOf(form) });
      form.reset();
      say(`${kit.name} is registered.`, 'ok');
      await done();
    });
  });
  return form;
}

function kitList(kits, container, reload) {
  return kits.length
    ? h('ul', { class: 'rows' }, kits.map((kit) => kitRow(kit, container, reload)))
    : h('p', { class: 'muted' }, 'No kits yet.');
}

function kitRow(kit, container, reload) {
  const row = h('li', { class: 'row' });
  const key = `edit-${kit.id}`;
  const edit = h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit ${kit.name}`, 'data-key': key }, 'Edit');
  row.append(h('span', { class: 'grow' }, h('strong', {}, kit.name), ` · ${money(kit.price)} · ${kit.stock} in stock`), edit);
  // Back to the list, with focus on the kit's Edit button (not lost to the page).
  const back = async () => {
    row.replaceChildren(); // the form is gone: the list may be read again
    update(container, null, () => []);
    await reload();
    focusKey(container, key);
  };
  edit.addEventListener('click', () => {
    const save = h('button', { type: 'submit' }, 'Save');
    const discard = h('button', { type: 'button', class: 'secondary', onclick: () => back() }, 'Discard');
    const form = h('form', { class: 'grow', 'aria-label': `Edit ${kit.name}` }, kitFields(kit), h('div', { class: 'actions' }, save, discard));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      busy(save, async () => {
        const changed = await api('PATCH', `/products/${kit.id}`, { body: kitOf(form) });
        await back();
        say(`${changed.name} is saved.`, 'ok');
      });
    });
    row.replaceChildren(form);
    form.querySelector('input').focus();
  });
  return row;
}

/** Where an order goes: its address (or pick-up) and who ordered it. */
const shipTo = (item) => `Ship to ${item.address || 'pick-up at the store'} · customer ${item.customerId ?? '?'}`;

function orderList(items, refresh) {
  if (!items.length) return h('p', { class: 'muted' }, 'No orders yet.');
  return h('ul', { class: 'rows' }, items.map((item) => {
    const row = h('li', { class: 'row' },
      h('div', { class: 'grow' },
        h('strong', {}, `Order #${item.orderId}`), ` · ${item.qty} × ${item.productName ?? 'kit'} · ${money(item.amount ?? 0)}`,
        h('p', { class: 'hint' }, shipTo(item))),
      h('span', { class: words.tone(item.status) }, words.named(words.orderStatus, item.status)));
    if (item.deliveryStatus === 'REQUESTED' && !item.cancelRequestedAt) {
      const ship = h('button', { type: 'button', 'data-key': `ship-${item.orderId}`, 'aria-label': `Ship order #${item.orderId}` }, 'Ship');
      ship.addEventListener('click', () => busy(ship, async () => {
        const [delivery] = await api('GET', `/deliveries?orderId=${item.orderId}`);
        if (!delivery) throw new Error('The delivery is not known yet; try again in a moment.');
        await api('POST', `/deliveries/${delivery.id}/start`);
        say(`Order #${item.orderId} is on its way.`, 'ok');
        await refresh();
      }));
      row.append(ship);
    }
    return row;
  }));
}

const CHAIN = [
  ['cancelRequestedAt', 'Requested'],
  ['deliveryCancelledAt', 'Delivery cancelled'],
  ['paymentCancelledAt', 'Refunded'],
  ['stockRestoredAt', 'Stock restored'],
];

function cancellationList(items) {
  return items.length
    ? h('ul', { class: 'rows' }, items.map((item) => h('li', { class: 'row' },
      h('div', { class: 'grow' },
        h('strong', {}, `Order #${item.orderId}`), ` · ${words.named(words.cancelReason, item.cancelReason)}`,
        h('ul', { class: 'progress', 'aria-label': `Progress of order #${item.orderId}'s cancellation` },
          CHAIN.map(([at, label]) => item[at]
            ? h('li', {}, `✓ ${label} ${clock(item[at])}`)
            : h('li', { class: 'waiting' }, `… ${label}`)))),
      h('span', { class: words.tone(item.cancellationStatus), 'data-cancellation-status': item.cancellationStatus },
        words.named(words.cancellationStatus, item.cancellationStatus)))))
    : h('p', { class: 'muted' }, 'No cancellations.');
}
