// What the API's states, steps and fields are called on the page: a shopper's words, never a
// service's name or a code.

export const orderStatus = {
  PENDING: 'Awaiting payment',
  PLACED: 'Placed',
  DELIVERY_REQUESTED: 'Delivery requested',
  SHIPPING: 'On its way',
  DELIVERED: 'Delivered',
  REJECTED: 'Rejected',
  CANCEL_REQUESTED: 'Cancellation requested',
  CANCELLED: 'Cancelled',
};

export const journeyStep = {
  PAID: 'Paid',
  ACCEPTED: 'Order accepted',
  SELLER_PAGE_UPDATED: 'Sent to the seller',
  STOCK_TAKEN: 'Stock set aside',
  STOCK_SHORT: 'Out of stock',
  DELIVERY_REQUESTED: 'Delivery requested',
  CUSTOMER_NOTIFIED: 'You were notified',
  SELLER_NOTIFIED: 'The seller was notified',
  SHIPPED: 'Shipped',
  DELIVERED: 'Delivered',
  CANCELLATION_REQUESTED: 'Cancellation requested',
  DELIVERY_CANCELLED: 'Delivery cancelled',
  REFUNDED: 'Refunded',
  STOCK_RESTORED: 'Stock restored',
};

export const waitingOn = { SYSTEM: 'on its way through the shop', COURIER: 'waiting for the seller to ship it' };

/** What a notification step was about (its detail). */
export const notice = {
  ORDER_PLACED: 'order confirmed',
  ORDER_CANCELLED_OUT_OF_STOCK: 'sold out, refunded',
  OUT_OF_STOCK: 'sold out',
  CANCEL_REQUESTED: 'cancellation requested',
  DELIVERY_REQUESTED: 'delivery requested',
  DELIVERY_STARTED: 'on its way',
  DELIVERY_COMPLETED: 'delivered',
  DELIVERY_CANCELLED: 'delivery cancelled',
};

export const cancelReason = {
  CUSTOMER_REQUEST: 'Customer request',
  OUT_OF_STOCK: 'Out of stock',
  PAYMENT_DECLINED: 'Payment declined',
};

export const cancellationStatus = {
  REQUESTED: 'Requested',
  DELIVERY_CANCELLED: 'Delivery cancelled',
  PAYMENT_CANCELLED: 'Refunded',
  CANCELLED: 'Cancelled',
  REFUSED: 'Refused: already delivered',
};

export const deliveryStatus = {
  REQUESTED: 'Waiting to ship',
  STARTED: 'Shipped',
  COMPLETED: 'Delivered',
  CANCELLED: 'Cancelled',
};

/** A badge's tone: done (green), failed (red), or under way (grey). */
const succeeded = new Set(['DELIVERED', 'COMPLETED']);
const failed = new Set(['REJECTED', 'REFUSED', 'CANCELLED', 'CANCEL_REQUESTED', 'SHORTAGE']);

/** The CSS class of a status badge. */
export const tone = (status) =>
  succeeded.has(status) ? 'status done' : failed.has(status) ? 'status stopped' : 'status';

/** Journey steps that are bad news: drawn as such. */
export const failedStep = new Set(['STOCK_SHORT', 'CANCELLATION_REQUESTED', 'DELIVERY_CANCELLED']);

export const named = (words, value) => words[value] ?? value ?? '';

/** The API's field names, as the start of a sentence ("cardNumber must be…"). */
export const fieldNames = {
  cardNumber: 'The card number',
  qty: 'The quantity',
  address: 'The delivery address',
  name: 'The name',
  price: 'The price',
  stock: 'The stock',
  productId: 'The kit',
  sellerId: 'The seller',
  customerId: 'The customer',
};
