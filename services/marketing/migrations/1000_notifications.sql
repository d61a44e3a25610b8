CREATE TABLE notifications (
    id           BIGSERIAL PRIMARY KEY,
    order_id     BIGINT      NOT NULL,
    recipient    TEXT        NOT NULL CHECK (recipient IN ('CUSTOMER', 'SELLER')),
    recipient_id BIGINT      NOT NULL,
    kind         TEXT        NOT NULL,
    message      TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- One notification of a kind per order and recipient, however often its cause is redelivered.
    UNIQUE (order_id, recipient, kind)
);
