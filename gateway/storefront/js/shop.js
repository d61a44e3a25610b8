// The customer's side of buying: the kits, and ordering one.

import { api, idempotencyKey } from './api.js';
import { busy, field, h, money } from './dom.js';
import { current, signIn } from './session.js';

function stockText(kit) {
  return kit.stock > 0 ? `${kit.stock} in stock` : 'Sold out';
}

export async function catalog(view) {
  const kits = await api('GET', '/products?limit=100');
  const session = current();
  const cards = kits.map((kit) =>
    h('li', { class: 'card' },
      h('h2', {}, kit.name),
      h('p', { class: 'price' }, money(kit.price)),
      h('p', { class: 'muted' }, stockText(kit)),
      session?.role === 'customer' && kit.stock > 0
        ? h('a', { href: `#/kits/${kit.id}`, 'aria-label': `Order ${kit.name}` }, 'Order')
        : null));
  view.show('Meal kits',
    session ? null : h('p', {}, 'Sign in as a customer to order, or as a seller to sell.'),
    kits.length ? h('ul', { class: 'cards' }, cards) : h('p', {}, 'No kits yet: a seller registers them in the seller console.'));
}

export async function orderKit(view, kitId) {
  const kit = await api('GET', `/products/${kitId}`);
  const session = current();
  if (session?.role !== 'customer') {
    view.show(kit.name, h('p', {}, 'Sign in as a customer to order this kit.'),
      h('button', { type: 'button', onclick: () => signIn(location.hash) }, 'Sign in'));
    return;
  }
  let key = idempotencyKey();
  const quantity = field('Quantity', { name: 'qty', type: 'number', min: 1, max: Math.max(kit.stock, 1), step: 1, value: 1, required: true });
  const address = field('Delivery address', { name: 'address', type: 'text', autocomplete: 'street-address', required: true, maxlength: 200 });
  const card = field('Card number', { name: 'card', type: 'text', inputmode: 'numeric', autocomplete: 'cc-number', maxlength: 23 },
    'A test shop: any number is approved, but 4000 0000 0000 0002 is always declined.');
  const submit = h('button', { type: 'submit' }, 'Place order');
  // What will be charged, before anything is: kept in step with the quantity.
  const total = h('output', { class: 'total', 'aria-live': 'polite' });
  const showTotal = () => {
    const qty = Number(quantity.querySelector('input').value);
    total.textContent = Number.isInteger(qty) && qty > 0
      ? `Total: ${money(kit.price * qty)} (${qty} × ${money(kit.price)})`
      : 'Total: choose how many kits';
  };
  quantity.querySelector('input').addEventListener('input', showTotal);
  showTotal();
  const form = h('form', { 'aria-label': `Order ${kit.name}` }, quantity, address, card,
    h('p', {}, total), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, async () => {
      const data = new FormData(form);
      const body = { productId: kit.id, qty: Number(data.get('qty')), address: data.get('address').trim() };
      const cardNumber = data.get('card').trim();
      if (cardNumber) body.cardNumber = cardNumber;
      let order;
      try {
        order = await api('POST', '/orders', { body, key });
      } catch (problem) {
        // Only a request that got no answer may have been stored: its retry keeps the key.
        if (problem.status !== 0) key = idempotencyKey();
        throw problem;
      }
      location.hash = `#/orders/${order.id}`;
    });
  });
  view.show(`Order ${kit.name}`,
    h('p', {}, h('span', { class: 'price' }, money(kit.price)), ' each · ', stockText(kit)),
    form);
}
