-- One row per order, merged from events of every topic in whatever order they arrive.
CREATE TABLE seller_orders (
    order_id               BIGINT PRIMARY KEY,
    seller_id              BIGINT,
    customer_id            BIGINT,
    product_id             BIGINT,
    product_name           TEXT,
    qty                    INTEGER,
    amount                 BIGINT,
    placed_at              TIMESTAMPTZ,
    payment_status         TEXT,
    delivery_status        TEXT,
    stock_status           TEXT,
    cancel_reason          TEXT,
    cancel_requested_at    TIMESTAMPTZ,
    payment_cancelled_at   TIMESTAMPTZ,
    delivery_cancelled_at  TIMESTAMPTZ,
    stock_restored_at      TIMESTAMPTZ,
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX seller_orders_seller ON seller_orders (seller_id, order_id DESC);
CREATE INDEX seller_orders_cancellations ON seller_orders (seller_id, cancel_requested_at DESC)
    WHERE cancel_requested_at IS NOT NULL;
