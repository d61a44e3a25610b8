CREATE TABLE payments (
    id             BIGSERIAL PRIMARY KEY,
    order_id       BIGINT      NOT NULL UNIQUE,
    customer_id    BIGINT      NOT NULL,
    seller_id      BIGINT      NOT NULL,
    product_id     BIGINT      NOT NULL,
    qty            INTEGER     NOT NULL,
    amount         BIGINT      NOT NULL,
    address        TEXT        NOT NULL,
    card_last4     TEXT,
    status         TEXT        NOT NULL CHECK (status IN ('APPROVED', 'DECLINED', 'CANCELLED')),
    decline_reason TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    cancelled_at   TIMESTAMPTZ
);
