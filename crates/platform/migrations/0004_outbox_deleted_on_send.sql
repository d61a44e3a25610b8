-- The relay deletes a row in the transaction that publishes it, instead of marking it sent and
-- purging it an hour later (issue #27): a row is written once and removed once, never updated,
-- so it makes no second version and the table holds only what is still to send. The primary
-- key is its one index: the relay reads in id order, and event ids are unique by construction
-- (time-ordered UUIDv7, made once per event) and deduplicated by consumers in processed_events.
-- Rows already sent go now; a relay of the old code would fail on the missing column rather
-- than publish again what a new one sent.
DELETE FROM outbox WHERE sent_at IS NOT NULL;
DROP INDEX IF EXISTS outbox_unsent;
DROP INDEX IF EXISTS outbox_sent_at;
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_event_id_key;
ALTER TABLE outbox DROP COLUMN IF EXISTS sent_at;
