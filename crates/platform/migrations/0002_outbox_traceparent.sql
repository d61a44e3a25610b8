-- The trace an event continues (W3C traceparent of the span that committed it), sent by the
-- relay as the record's `traceparent` header.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS traceparent TEXT;
