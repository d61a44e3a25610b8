// What the API's states are called on the page.

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
  SELLER_PAGE_UPDATED: "On the seller's page",
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

export const waitingOn = { SYSTEM: 'the shop', COURIER: 'the seller or courier' };

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

const finished = new Set(['DELIVERED', 'CANCELLED', 'COMPLETED']);
const stopped = new Set(['REJECTED', 'REFUSED']);

/** The CSS class of a status badge. */
export const tone = (status) =>
  finished.has(status) ? 'status done' : stopped.has(status) ? 'status stopped' : 'status';

export const named = (words, value) => words[value] ?? value ?? '';
