CREATE TABLE products (
    id         BIGSERIAL PRIMARY KEY,
    seller_id  BIGINT      NOT NULL,
    name       TEXT        NOT NULL,
    price      BIGINT      NOT NULL CHECK (price >= 0),
    stock      INTEGER     NOT NULL CHECK (stock >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX products_seller ON products (seller_id, id);

-- What each order did to the stock, once: DECREASED (and maybe later restored), SHORTAGE
-- (nothing taken), or VOID (payment cancelled before any stock was taken).
CREATE TABLE stock_movements (
    order_id    BIGINT PRIMARY KEY,
    product_id  BIGINT      NOT NULL,
    qty         INTEGER     NOT NULL,
    outcome     TEXT        NOT NULL CHECK (outcome IN ('DECREASED', 'SHORTAGE', 'VOID')),
    restored_at TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
