//! Transactional outbox.
//!
//! A handler writes its state change and the events it causes in one transaction
//! ([`enqueue`]); the [`Relay`] publishes committed rows in id order with the idempotent producer
//! and marks them sent. The relay wakes on `NOTIFY` (sent by [`enqueue`] and delivered at
//! commit) and polls as a fallback, so a lost notification only delays an event. One relay per
//! schema publishes at a time (a transaction-scoped advisory lock), which keeps one order's
//! events in order even with several replicas.

use std::time::{Duration, Instant};

use contracts::{Envelope, Topic, TopicNames};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};

use crate::shutdown::CancellationToken;

const BATCH: i64 = 500;
const KEEP_SENT: &str = "1 hour";
const KEEP_PROCESSED: &str = "7 days";
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// The NOTIFY channel of the schema a connection is in.
const CHANNEL_SQL: &str = "'outbox_' || current_schema()";

/// Adds `envelope` to the outbox as part of the caller's transaction.
pub async fn enqueue(conn: &mut PgConnection, envelope: &Envelope) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "WITH added AS (
             INSERT INTO outbox (event_id, topic, message_key, event_type, body)
             VALUES ($1, $2, $3, $4, $5)
         )
         SELECT pg_notify({CHANNEL_SQL}, '')"
    ))
    .bind(envelope.event_id)
    .bind(envelope.topic().base_name())
    .bind(envelope.key())
    .bind(envelope.event_type())
    .bind(envelope.to_json())
    .execute(conn)
    .await?;
    Ok(())
}

pub struct Relay {
    pub pool: PgPool,
    pub producer: FutureProducer,
    pub topics: TopicNames,
    pub schema: String,
    pub poll: Duration,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    topic: String,
    message_key: String,
    event_type: String,
    event_id: uuid::Uuid,
    body: String,
}

impl Relay {
    pub async fn run(self, stop: CancellationToken) {
        let channel = format!("outbox_{}", self.schema);
        let mut listener: Option<PgListener> = None;
        let mut last_purge = Instant::now();
        loop {
            if listener.is_none() {
                listener = self.listen(&channel).await;
            }
            let mut backlog = true;
            while backlog && !stop.is_cancelled() {
                match self.publish_batch().await {
                    Ok(sent) => backlog = sent as i64 == BATCH,
                    Err(err) => {
                        tracing::warn!(error = %err, "outbox relay: publishing failed; will retry");
                        backlog = false;
                    }
                }
            }
            if last_purge.elapsed() > PURGE_EVERY {
                last_purge = Instant::now();
                if let Err(err) = self.purge().await {
                    tracing::warn!(error = %err, "outbox relay: purge failed");
                }
            }
            let wake = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                received = wake => {
                    if let Err(err) = received {
                        tracing::warn!(error = %err, "outbox relay: LISTEN connection lost");
                        listener = None;
                    }
                }
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    async fn listen(&self, channel: &str) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await.ok()?;
        listener.listen(channel).await.ok()?;
        Some(listener)
    }

    /// Publishes up to one batch; returns how many rows it marked sent.
    async fn publish_batch(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let locked: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_xact_lock(hashtext('outbox.' || current_schema()))",
        )
        .fetch_one(&mut *tx)
        .await?;
        if !locked {
            return Ok(0);
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, topic, message_key, event_type, event_id, body FROM outbox
             WHERE sent_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }

        let names: Vec<(String, String)> = rows
            .iter()
            .map(|row| {
                let topic = Topic::from_base_name(&row.topic)
                    .map(|t| self.topics.name(t))
                    .unwrap_or_else(|| row.topic.clone());
                (topic, row.event_id.to_string())
            })
            .collect();
        let deliveries: Vec<_> = rows
            .iter()
            .zip(&names)
            .map(|(row, (topic, event_id))| {
                let headers = OwnedHeaders::new()
                    .insert(Header {
                        key: "event-type",
                        value: Some(row.event_type.as_str()),
                    })
                    .insert(Header {
                        key: "event-id",
                        value: Some(event_id.as_str()),
                    });
                let record = FutureRecord::to(topic)
                    .key(&row.message_key)
                    .payload(&row.body)
                    .headers(headers);
                self.producer.send(record, Duration::from_secs(10))
            })
            .collect();

        // In id order: stop at the first failure so nothing after it is marked sent.
        let mut sent = Vec::with_capacity(rows.len());
        for (row, result) in rows.iter().zip(futures::future::join_all(deliveries).await) {
            match result {
                Ok(_) => sent.push(row.id),
                Err((err, _)) => {
                    tracing::warn!(error = %err, event_type = %row.event_type, "outbox relay: send failed");
                    break;
                }
            }
        }
        sqlx::query("UPDATE outbox SET sent_at = now() WHERE id = ANY($1)")
            .bind(&sent)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        metrics::counter!("outbox_published_total").increment(sent.len() as u64);
        Ok(sent.len())
    }

    async fn purge(&self) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "DELETE FROM outbox WHERE sent_at < now() - interval '{KEEP_SENT}'"
        ))
        .execute(&self.pool)
        .await?;
        sqlx::query(&format!(
            "DELETE FROM processed_events WHERE processed_at < now() - interval '{KEEP_PROCESSED}'"
        ))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
