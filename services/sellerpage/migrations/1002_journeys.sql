-- Each order's journey (the steps of its saga, see journey.rs) and the step the system owes it
-- that has waited longest, for the stuck-saga check.
ALTER TABLE seller_orders ADD COLUMN journey JSONB NOT NULL DEFAULT '[]';
ALTER TABLE seller_orders ADD COLUMN awaiting_step TEXT;
ALTER TABLE seller_orders ADD COLUMN awaiting_since TIMESTAMPTZ;
CREATE INDEX seller_orders_awaiting ON seller_orders (awaiting_since)
    WHERE awaiting_since IS NOT NULL;
