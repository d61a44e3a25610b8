-- The derived statuses, stored on every save so listings filter and paginate in SQL.
ALTER TABLE seller_orders ADD COLUMN status TEXT NOT NULL DEFAULT 'PENDING';
ALTER TABLE seller_orders ADD COLUMN cancellation_status TEXT;
CREATE INDEX seller_orders_status ON seller_orders (seller_id, status, order_id DESC);
