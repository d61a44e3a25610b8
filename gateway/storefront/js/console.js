// The seller console: their kits (register, edit), their orders (ship), and their
// cancellations with each one's progress. Orders and cancellations come from the seller page
// (the CQRS read side) and refresh by themselves.

import { api } from './api.js';
import { busy, clock, field, h, money, say } from './dom.js';
import { current } from './session.js';
import * as words from './words.js';

export async function sellerConsole(view) {
  const seller = current();
  const kits = h('div');
  const orders = h('div', { 'aria-live': 'polite' });
  const cancellations = h('div', { 'aria-live': 'polite' });
  const refreshed = h('p', { class: 'hint' });
  view.show(`Seller console · seller ${seller.id}`,
    h('div', { class: 'grid2' },
      h('section', { 'aria-labelledby': 'register-kit' }, h('h2', { id: 'register-kit' }, 'Register a kit'), registerForm(() => showKits(kits, seller.id))),
      h('section', { 'aria-labelledby': 'your-kits' }, h('h2', { id: 'your-kits' }, 'Your kits'), kits)),
    h('section', { 'aria-labelledby': 'your-orders' }, h('h2', { id: 'your-orders' }, 'Orders'), orders),
    h('section', { 'aria-labelledby': 'your-cancellations' }, h('h2', { id: 'your-cancellations' }, 'Cancellations'), cancellations),
    refreshed);
  const refresh = async () => {
    const [placed, cancelled] = await Promise.all([
      api('GET', `/sellers/${seller.id}/orders?limit=50`),
      api('GET', `/sellers/${seller.id}/cancellations?limit=50`),
      // Stock moves with every order; a kit being edited is left alone.
      kits.querySelector('form') ? null : showKits(kits, seller.id),
    ]);
    showOrders(orders, placed.items, refresh);
    showCancellations(cancellations, cancelled.items);
    refreshed.textContent = `Updates by itself · last checked ${clock(new Date())}`;
  };
  await refresh();
  view.every(2000, refresh);
}

function kitFields(kit = {}) {
  return [
    field('Name', { name: 'name', type: 'text', required: true, maxlength: 200, value: kit.name }),
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
      say(`${kit.name} is registered (kit #${kit.id}).`, 'ok');
      await done();
    });
  });
  return form;
}

async function showKits(container, sellerId) {
  const kits = await api('GET', `/products?sellerId=${sellerId}&limit=100`);
  container.replaceChildren(kits.length
    ? h('ul', { class: 'rows' }, kits.map((kit) => kitRow(kit, () => showKits(container, sellerId))))
    : h('p', { class: 'muted' }, 'No kits yet.'));
}

function kitRow(kit, done) {
  const row = h('li', { class: 'row' });
  const edit = h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit ${kit.name}` }, 'Edit');
  row.append(h('span', { class: 'grow' }, h('strong', {}, kit.name), ` · ${money(kit.price)} · ${kit.stock} in stock`), edit);
  edit.addEventListener('click', () => {
    const save = h('button', { type: 'submit' }, 'Save');
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => done() }, 'Discard');
    const form = h('form', { class: 'grow', 'aria-label': `Edit ${kit.name}` }, kitFields(kit), h('div', { class: 'actions' }, save, cancel));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      busy(save, async () => {
        const changed = await api('PATCH', `/products/${kit.id}`, { body: kitOf(form) });
        say(`${changed.name} is saved.`, 'ok');
        await done();
      });
    });
    row.replaceChildren(form);
    form.querySelector('input').focus();
  });
  return row;
}

function showOrders(container, items, refresh) {
  if (!items.length) {
    container.replaceChildren(h('p', { class: 'muted' }, 'No orders yet.'));
    return;
  }
  const focused = document.activeElement?.dataset?.order;
  container.replaceChildren(h('ul', { class: 'rows' }, items.map((item) => {
    const row = h('li', { class: 'row' },
      h('span', { class: 'grow' }, h('strong', {}, `Order #${item.orderId}`), ` · ${item.qty} × ${item.productName ?? 'kit'} · ${money(item.amount ?? 0)}`),
      h('span', { class: words.tone(item.status) }, words.named(words.orderStatus, item.status)));
    if (item.deliveryStatus === 'REQUESTED' && !item.cancelRequestedAt) {
      const ship = h('button', { type: 'button', 'data-order': item.orderId, 'aria-label': `Ship order #${item.orderId}` }, 'Ship');
      ship.addEventListener('click', () => busy(ship, async () => {
        const [delivery] = await api('GET', `/deliveries?orderId=${item.orderId}`);
        if (!delivery) throw new Error('The delivery is not known yet; try again in a moment.');
        await api('POST', `/deliveries/${delivery.id}/start`);
        say(`Order #${item.orderId} is on its way.`, 'ok');
        await refresh();
      }));
      row.append(ship);
      if (String(item.orderId) === focused) queueMicrotask(() => ship.focus());
    }
    return row;
  })));
}

const CHAIN = [
  ['cancelRequestedAt', 'Requested'],
  ['deliveryCancelledAt', 'Delivery cancelled'],
  ['paymentCancelledAt', 'Refunded'],
  ['stockRestoredAt', 'Stock restored'],
];

function showCancellations(container, items) {
  container.replaceChildren(items.length
    ? h('ul', { class: 'rows' }, items.map((item) => h('li', { class: 'row' },
      h('div', { class: 'grow' },
        h('strong', {}, `Order #${item.orderId}`), ` · ${words.named(words.cancelReason, item.cancelReason)}`,
        h('ul', { class: 'progress', 'aria-label': `Progress of order #${item.orderId}'s cancellation` },
          CHAIN.map(([at, label]) => item[at]
            ? h('li', {}, `✓ ${label} ${clock(item[at])}`)
            : h('li', { class: 'waiting' }, `… ${label}`)))),
      h('span', { class: words.tone(item.cancellationStatus), 'data-cancellation-status': item.cancellationStatus },
        words.named(words.cancellationStatus, item.cancellationStatus)))))
    : h('p', { class: 'muted' }, 'No cancellations.'));
}
