//! The dead-letter topic, operable: what a consumer gave up on can be listed, shown and sent
//! back to its topic.
//!
//! A consumer ([`crate::consumer`]) puts a message it cannot apply on the dead-letter topic with
//! the reason in [`header`]s. One service operates the topic
//! ([`crate::service::ServiceBuilder::operate_dead_letters`]): it records each dead letter in its
//! schema (offset stored after the row commits, as every consumer does) and serves, to admins:
//!
//! - `GET /dead-letters[?status=WAITING|REDRIVEN]`: newest first;
//! - `GET /dead-letters/{id}`: the event, its headers, the error and the attempts;
//! - `POST /dead-letters/{id}/redrive`: the consumer that gave up applies the record again,
//!   fetched from its own topic ([`crate::consumer::Redrive`]: only a topic's owner may write
//!   there, so the operator asks instead of sending the record back). Safe to repeat: the
//!   consumer skips an event it applied.
//!
//! `mealkit dlq list|show|redrive` calls the same endpoints. The gauges `dead_letters_waiting`
//! and `dead_letters_oldest_waiting_seconds` say how many wait and for how long.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use contracts::{Envelope, Topic, TopicNames};
use rdkafka::Message;
use rdkafka::consumer::Consumer;
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::producer::FutureRecord;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::consumer::Redrive;
use crate::error::{ApiResult, ErrorBody};
use crate::kafka::{
    self, FutureProducer, GroupMember, Next, ReceiveErrors, SessionEnd, StreamConsumer,
};
use crate::openapi::{OpenApiRouter, routes};
use crate::shutdown::CancellationToken;
use crate::{ApiError, Caller, Party, Path, Query, Store};

/// The headers a dead letter carries besides the original message's.
pub mod header {
    /// Why the consumer gave up.
    pub const ERROR: &str = "dlq-error";
    /// The service whose consumer gave up.
    pub const SERVICE: &str = "dlq-service";
    /// Where the message was: topic, partition, offset.
    pub const TOPIC: &str = "dlq-topic";
    pub const PARTITION: &str = "dlq-partition";
    pub const OFFSET: &str = "dlq-offset";
    /// How many times its handler was tried (0: never applicable, undecodable or invalid).
    pub const ATTEMPTS: &str = "dlq-attempts";
    /// Every dead-letter header starts so; a redrive removes them.
    pub const PREFIX: &str = "dlq-";
}

contracts::labels! {
    /// Whether a dead letter still waits for an operator.
    pub enum DeadLetterStatus {
        Waiting = "WAITING",
        Redriven = "REDRIVEN",
    }
}

/// One dead letter, as listed.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub id: i64,
    /// The topic it was consumed from (and is fetched from again on a redrive).
    pub topic: Option<String>,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    /// The service whose consumer gave up on it.
    pub service: Option<String>,
    pub error: String,
    /// Tries of its handler (0: it could never be applied: undecodable or invalid).
    pub attempts: Option<i32>,
    pub event_type: Option<String>,
    #[schema(value_type = Option<String>)]
    pub event_id: Option<uuid::Uuid>,
    pub order_id: Option<i64>,
    pub dead_lettered_at: DateTime<Utc>,
    pub redriven_at: Option<DateTime<Utc>>,
    /// How many times it was sent back.
    pub redrives: i32,
}

/// One dead letter with its message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterDetail {
    #[serde(flatten)]
    pub letter: DeadLetter,
    pub key: Option<String>,
    /// The message: its JSON when it is JSON, else its text (lossy).
    pub event: serde_json::Value,
    pub headers: BTreeMap<String, String>,
}

const LETTER: &str = "id, topic, partition, \"offset\", service, error, attempts, event_type, \
    event_id, order_id, dead_lettered_at, redriven_at, redrives";

/// The dead-letter topic's operator: its recorder, its endpoints.
#[derive(Clone)]
pub struct DeadLetters {
    pub(crate) store: Store,
    pub(crate) producer: FutureProducer,
    pub(crate) topics: TopicNames,
}

impl DeadLetters {
    /// Records every message of the dead-letter topic until `stop`; the offset of each is
    /// stored once its row is committed.
    pub(crate) async fn record(
        self,
        member: GroupMember,
        topics: TopicNames,
        stop: CancellationToken,
    ) {
        let topic = topics.name(Topic::DeadLetter);
        member
            .serve(&stop, |consumer| self.session(consumer, &topic, &stop))
            .await;
    }

    async fn session(
        &self,
        consumer: StreamConsumer,
        topic: &str,
        stop: &CancellationToken,
    ) -> SessionEnd {
        if let Err(err) = consumer.subscribe(&[topic]) {
            tracing::error!(error = %err, "dead letters: subscribe failed");
            return SessionEnd::Stopped;
        }
        let mut gauges = tokio::time::interval(Duration::from_secs(5));
        let mut errors = ReceiveErrors::new("dead letters");
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => return SessionEnd::Stopped,
                _ = gauges.tick() => {
                    if let Some(err) = kafka::fatal(&consumer) {
                        return SessionEnd::Fatal(err);
                    }
                    self.update_gauges().await;
                    continue;
                }
                next = kafka::next(&consumer, &mut errors) => next,
            };
            let message = match next {
                Next::Message(message) => message,
                Next::Fatal(err) => return SessionEnd::Fatal(err),
            };
            let mut delay = Duration::from_millis(100);
            while let Err(err) = self.insert(&message).await {
                tracing::warn!(error = %err, "dead letters: recording failed; retrying");
                tokio::select! {
                    () = stop.cancelled() => return SessionEnd::Stopped,
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            if let Err(err) = consumer.store_offset_from_message(&message) {
                tracing::warn!(error = %err, "dead letters: storing the offset failed");
            }
            self.update_gauges().await;
        }
    }

    async fn insert(&self, message: &BorrowedMessage<'_>) -> Result<(), sqlx::Error> {
        let headers: BTreeMap<String, String> = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| {
                        let value = String::from_utf8_lossy(h.value.unwrap_or_default());
                        (h.key.to_owned(), value.into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let payload = message.payload().unwrap_or_default();
        let envelope = Envelope::from_json(payload).ok();
        let get = |key: &str| headers.get(key).cloned();
        let number = |key: &str| get(key).and_then(|v| v.parse::<i64>().ok());
        let at = message
            .timestamp()
            .to_millis()
            .and_then(DateTime::<Utc>::from_timestamp_millis)
            .unwrap_or_else(Utc::now);
        let mut conn = self.store.read().await?;
        sqlx::query(
            "INSERT INTO dead_letters (dlq_partition, dlq_offset, topic, partition, \"offset\",
                 service, error, attempts, event_type, event_id, order_id, message_key, payload,
                 headers, dead_lettered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             ON CONFLICT (dlq_partition, dlq_offset) DO NOTHING",
        )
        .bind(message.partition())
        .bind(message.offset())
        .bind(get(header::TOPIC))
        .bind(number(header::PARTITION).map(|p| p as i32))
        .bind(number(header::OFFSET))
        .bind(get(header::SERVICE))
        .bind(get(header::ERROR).unwrap_or_else(|| "unknown".to_owned()))
        .bind(number(header::ATTEMPTS).map(|a| a as i32))
        .bind(
            envelope
                .as_ref()
                .map(|e| e.event_type().to_owned())
                .or_else(|| get("event-type")),
        )
        .bind(envelope.as_ref().map(|e| e.event_id))
        .bind(envelope.as_ref().and_then(|e| e.order_id))
        .bind(message.key())
        .bind(payload)
        .bind(sqlx::types::Json(&headers))
        .bind(at)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn update_gauges(&self) {
        let Ok(mut conn) = self.store.read().await else {
            return;
        };
        let waiting: Result<(i64, Option<DateTime<Utc>>), _> = sqlx::query_as(
            "SELECT count(*), min(dead_lettered_at) FROM dead_letters WHERE redriven_at IS NULL",
        )
        .fetch_one(&mut *conn)
        .await;
        if let Ok((count, oldest)) = waiting {
            metrics::gauge!("dead_letters_waiting").set(count as f64);
            let age = oldest.map_or(0.0, |at| {
                (Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
            });
            metrics::gauge!("dead_letters_oldest_waiting_seconds").set(age);
        }
    }

    /// The admin endpoints.
    pub(crate) fn router(self) -> OpenApiRouter {
        crate::openapi::router("")
            .routes(routes!(list))
            .routes(routes!(show))
            .routes(routes!(redrive))
            .with_state(self)
    }
}

type State = axum::extract::State<DeadLetters>;

fn must_be_admin(caller: &Caller) -> Result<(), ApiError> {
    caller.must_be(&[Party::Admins], "an admin")
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Filter {
    /// Only those waiting, or only those sent back.
    #[param(pattern = "^(WAITING|REDRIVEN)$")]
    status: Option<String>,
}

/// The dead letters, newest first (admins only).
#[utoipa::path(get, path = "/dead-letters", params(Filter),
    responses(
        (status = 200, description = "The dead letters (at most 500)", body = [DeadLetter]),
        (status = 400, description = "An unknown `status` (`bad_request`)", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
    ))]
async fn list(
    axum::extract::State(letters): State,
    caller: Caller,
    Query(filter): Query<Filter>,
) -> ApiResult<axum::Json<Vec<DeadLetter>>> {
    must_be_admin(&caller)?;
    let status = match filter.status.as_deref() {
        None => None,
        Some(text) => Some(DeadLetterStatus::parse(text).ok_or_else(|| {
            ApiError::bad_request(format!("status {text} is not one of WAITING, REDRIVEN"))
        })?),
    };
    let mut conn = letters.store.read().await?;
    let rows = sqlx::query_as(&format!(
        "SELECT {LETTER} FROM dead_letters
         WHERE $1::TEXT IS NULL OR ($1 = 'WAITING') = (redriven_at IS NULL)
         ORDER BY id DESC LIMIT 500"
    ))
    .bind(status.map(DeadLetterStatus::as_str))
    .fetch_all(&mut *conn)
    .await?;
    Ok(axum::Json(rows))
}

#[derive(sqlx::FromRow)]
struct Stored {
    message_key: Option<Vec<u8>>,
    payload: Vec<u8>,
    headers: sqlx::types::Json<BTreeMap<String, String>>,
}

async fn find(letters: &DeadLetters, id: i64) -> ApiResult<(DeadLetter, Stored)> {
    let mut conn = letters.store.read().await?;
    let letter: Option<DeadLetter> =
        sqlx::query_as(&format!("SELECT {LETTER} FROM dead_letters WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let letter = letter.ok_or_else(|| ApiError::not_found("dead letter", id))?;
    let message =
        sqlx::query_as("SELECT message_key, payload, headers FROM dead_letters WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
    Ok((letter, message))
}

/// One dead letter: the event, its headers, the error and the attempts (admins only).
#[utoipa::path(get, path = "/dead-letters/{id}",
    params(("id" = i64, Path, description = "The dead letter's id")),
    responses(
        (status = 200, description = "The dead letter", body = DeadLetterDetail),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such dead letter (`not_found`)", body = ErrorBody),
    ))]
async fn show(
    axum::extract::State(letters): State,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<DeadLetterDetail>> {
    must_be_admin(&caller)?;
    let (letter, message) = find(&letters, id).await?;
    let event = serde_json::from_slice(&message.payload).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&message.payload).into_owned())
    });
    Ok(axum::Json(DeadLetterDetail {
        letter,
        key: message
            .message_key
            .map(|k| String::from_utf8_lossy(&k).into_owned()),
        event,
        headers: message.headers.0,
    }))
}

/// Asks the consumer that gave up on a dead letter to apply its record again, fetched from
/// its topic (a [`Redrive`] on the redrive topic), and marks it redriven (admins only). Safe to
/// repeat: the consumer skips what it applied.
#[utoipa::path(post, path = "/dead-letters/{id}/redrive",
    params(("id" = i64, Path, description = "The dead letter's id")),
    responses(
        (status = 200, description = "Asked for; the dead letter as it stands", body = DeadLetter),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such dead letter (`not_found`)", body = ErrorBody),
        (status = 409, description = "It does not say where its record is or whose consumer gave up (`not_redrivable`)", body = ErrorBody),
        (status = 503, description = "The broker did not take the request (`broker_unavailable`)", body = ErrorBody),
    ))]
async fn redrive(
    axum::extract::State(letters): State,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<DeadLetter>> {
    must_be_admin(&caller)?;
    let (letter, _) = find(&letters, id).await?;
    let (Some(topic), Some(partition), Some(offset), Some(service)) = (
        letter.topic.clone(),
        letter.partition,
        letter.offset,
        letter.service.clone(),
    ) else {
        return Err(ApiError::conflict(
            "not_redrivable",
            "this dead letter does not say where its record is or whose consumer gave up on it",
        ));
    };
    let request = Redrive {
        service,
        topic: topic.clone(),
        partition,
        offset,
    };
    let body = serde_json::to_string(&request).expect("a request serializes");
    let redrives = letters.topics.name(Topic::Redrive);
    let record = FutureRecord::to(&redrives)
        .key(&request.service)
        .payload(&body);
    if let Err((err, _)) = letters.producer.send(record, Duration::from_secs(10)).await {
        tracing::warn!(error = %err, id, "dead letters: redrive failed");
        return Err(ApiError::unavailable(
            "broker_unavailable",
            "the broker did not take the request; try again shortly",
            2,
        ));
    }
    let mut conn = letters.store.read().await?;
    let letter = sqlx::query_as(&format!(
        "UPDATE dead_letters SET redriven_at = now(), redrives = redrives + 1
         WHERE id = $1 RETURNING {LETTER}"
    ))
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    tracing::info!(id, topic, "dead letter redriven");
    letters.update_gauges().await;
    Ok(axum::Json(letter))
}
