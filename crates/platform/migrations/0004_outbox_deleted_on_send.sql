-- The relay deletes a row in the transaction that publishes it, instead of marking it sent and
-- purging it an hour later (issue #27): a row is written once and removed once, never updated,
-- so it makes no second version and the table holds only what is still to send. The primary
-- key is its one index: the relay reads in id order, and event ids are unique by construction
-- (time-ordered UUIDv7, made once per event) and deduplicated by consumers in processed_events.
-- Rows already sent go now. `sent_at` stays, unused, for one release: a replica of the
-- previous one still running during a rolling update (or brought back by a rollback) keeps
-- working with it, publishing and marking rows the new relay would delete, which sends some
-- events twice and loses none (consumers skip duplicates). The release after drops it.
DELETE FROM outbox WHERE sent_at IS NOT NULL;
DROP INDEX IF EXISTS outbox_unsent;
DROP INDEX IF EXISTS outbox_sent_at;
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_event_id_key;
