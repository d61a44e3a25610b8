CREATE TABLE deliveries (
    id          BIGSERIAL PRIMARY KEY,
    order_id    BIGINT      NOT NULL UNIQUE,
    customer_id BIGINT      NOT NULL,
    seller_id   BIGINT      NOT NULL,
    address     TEXT        NOT NULL,
    status      TEXT        NOT NULL CHECK (status IN ('REQUESTED', 'STARTED', 'COMPLETED', 'CANCELLED')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
