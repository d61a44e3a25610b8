-- What the dead-letter topic holds, recorded by the service that operates it (see
-- dead_letters.rs): listed, shown and redriven from here. Empty in the other schemas.
CREATE TABLE IF NOT EXISTS dead_letters (
    id               BIGSERIAL   PRIMARY KEY,
    dlq_partition    INTEGER     NOT NULL,
    dlq_offset       BIGINT      NOT NULL,
    topic            TEXT,
    partition        INTEGER,
    "offset"         BIGINT,
    service          TEXT,
    error            TEXT        NOT NULL,
    attempts         INTEGER,
    event_type       TEXT,
    event_id         UUID,
    order_id         BIGINT,
    message_key      BYTEA,
    payload          BYTEA       NOT NULL,
    headers          JSONB       NOT NULL,
    dead_lettered_at TIMESTAMPTZ NOT NULL,
    redriven_at      TIMESTAMPTZ,
    redrives         INTEGER     NOT NULL DEFAULT 0,
    UNIQUE (dlq_partition, dlq_offset)
);
CREATE INDEX IF NOT EXISTS dead_letters_waiting ON dead_letters (dead_lettered_at)
    WHERE redriven_at IS NULL;
