//! Queries. Each takes the caller's connection or unit of work; the caller owns the commit.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::domain::{Notice, NotificationKind, Recipient};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: i64,
    pub order_id: i64,
    pub recipient: Recipient,
    pub recipient_id: i64,
    pub kind: NotificationKind,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, order_id, recipient, recipient_id, kind, message, created_at";

/// Stores the notice unless one of its kind exists for the order and recipient (`None` then).
pub async fn insert(
    conn: &mut PgConnection,
    notice: &Notice,
) -> sqlx::Result<Option<Notification>> {
    sqlx::query_as(&format!(
        "INSERT INTO notifications (order_id, recipient, recipient_id, kind, message)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id, recipient, kind) DO NOTHING
         RETURNING {COLUMNS}"
    ))
    .bind(notice.order_id)
    .bind(notice.recipient)
    .bind(notice.recipient_id)
    .bind(notice.kind)
    .bind(&notice.message)
    .fetch_optional(conn)
    .await
}

/// Stores each notice that has no notification of its kind for its order and recipient yet,
/// in order; returns the ones it stored.
pub async fn insert_all(
    conn: &mut PgConnection,
    notices: &[Notice],
) -> sqlx::Result<Vec<Notification>> {
    sqlx::query_as(&format!(
        "INSERT INTO notifications (order_id, recipient, recipient_id, kind, message)
         SELECT order_id, recipient, recipient_id, kind, message
         FROM unnest($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[])
             WITH ORDINALITY AS n(order_id, recipient, recipient_id, kind, message, position)
         ORDER BY position
         ON CONFLICT (order_id, recipient, kind) DO NOTHING
         RETURNING {COLUMNS}"
    ))
    .bind(notices.iter().map(|n| n.order_id).collect::<Vec<_>>())
    .bind(notices.iter().map(|n| n.recipient).collect::<Vec<_>>())
    .bind(notices.iter().map(|n| n.recipient_id).collect::<Vec<_>>())
    .bind(notices.iter().map(|n| n.kind).collect::<Vec<_>>())
    .bind(
        notices
            .iter()
            .map(|n| n.message.as_str())
            .collect::<Vec<_>>(),
    )
    .fetch_all(conn)
    .await
}

pub async fn find(
    conn: &mut PgConnection,
    order_id: i64,
    recipient: Recipient,
    kind: NotificationKind,
) -> sqlx::Result<Option<Notification>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE order_id = $1 AND recipient = $2 AND kind = $3"
    ))
    .bind(order_id)
    .bind(recipient)
    .bind(kind)
    .fetch_optional(conn)
    .await
}

/// The notifications of one recipient (newest first), of one order if `order_id` is given.
pub async fn list(
    conn: &mut PgConnection,
    recipient: Recipient,
    recipient_id: i64,
    order_id: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<Notification>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM notifications
         WHERE recipient = $1 AND recipient_id = $2 AND ($3::BIGINT IS NULL OR order_id = $3)
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(recipient)
    .bind(recipient_id)
    .bind(order_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}
