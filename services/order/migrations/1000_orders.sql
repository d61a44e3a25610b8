-- The product replica, fed by mealkit.product: orders are validated against it, so they are
-- accepted while the product service is down.
CREATE TABLE products (
    product_id BIGINT PRIMARY KEY,
    seller_id  BIGINT      NOT NULL,
    name       TEXT        NOT NULL,
    price      BIGINT      NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id           BIGSERIAL PRIMARY KEY,
    customer_id  BIGINT      NOT NULL,
    seller_id    BIGINT      NOT NULL,
    product_id   BIGINT      NOT NULL,
    product_name TEXT        NOT NULL,
    qty          INTEGER     NOT NULL,
    amount       BIGINT      NOT NULL,
    address      TEXT        NOT NULL,
    status       TEXT        NOT NULL,
    reason       TEXT,
    payment_id   BIGINT,
    -- Set once, when OrderPlaced went to the outbox.
    placed_at    TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer ON orders (customer_id, id DESC);
CREATE INDEX orders_pending ON orders (created_at) WHERE status = 'PENDING';
