-- Idempotency-Key on POST /orders and on cancelling (platform::idempotency): the key, whose it
-- is, a SHA-256 of the request, and the order that request made or cancelled.
CREATE TABLE idempotency_keys (
    owner       TEXT        NOT NULL,
    key         TEXT        NOT NULL,
    fingerprint BYTEA       NOT NULL,
    resource_id BIGINT      NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_resource ON idempotency_keys (resource_id);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
