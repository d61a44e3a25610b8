//! The notifications events cause.

use contracts::{DeliveryChanged, Envelope, Event, Notified};
use platform::consumer::{EventHandler, HandlerError};
use sqlx::PgConnection;

use crate::SERVICE;
use crate::db::{self, Notification};
use crate::domain::{Notice, Recipient, won};

pub struct Handler;

impl EventHandler for Handler {
    fn wants(&self, event: &Event) -> bool {
        matches!(
            event,
            Event::OrderPlaced(_)
                | Event::OrderCancelled(_)
                | Event::DeliveryRequested(_)
                | Event::DeliveryStarted(_)
                | Event::DeliveryCompleted(_)
                | Event::DeliveryCancelled(_)
        )
    }

    async fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        self.handle_batch(conn, &[envelope]).await
    }

    async fn handle_batch(
        &self,
        conn: &mut PgConnection,
        envelopes: &[&Envelope],
    ) -> Result<(), HandlerError> {
        let all: Vec<Notice> = envelopes.iter().flat_map(|e| notices(&e.event)).collect();
        notify_all(conn, &all).await
    }
}

fn customer(order_id: i64, customer_id: i64, kind: &'static str, message: String) -> Notice {
    Notice {
        order_id,
        recipient: Recipient::Customer,
        recipient_id: customer_id,
        kind,
        message,
    }
}

fn seller(order_id: i64, seller_id: i64, kind: &'static str, message: String) -> Notice {
    Notice {
        order_id,
        recipient: Recipient::Seller,
        recipient_id: seller_id,
        kind,
        message,
    }
}

fn delivery_notice(d: &DeliveryChanged, kind: &'static str, what: &str) -> Notice {
    customer(
        d.order_id,
        d.customer_id,
        kind,
        format!("The delivery of your order #{} {what}.", d.order_id),
    )
}

/// The notices an event causes.
pub fn notices(event: &Event) -> Vec<Notice> {
    match event {
        Event::OrderPlaced(o) => vec![customer(
            o.order_id,
            o.customer_id,
            "ORDER_PLACED",
            format!(
                "Your order #{} is confirmed: {} x {}, {} KRW, delivered to {}.",
                o.order_id,
                o.qty,
                o.product_name,
                won(o.amount),
                o.address
            ),
        )],
        Event::OrderCancelled(o) if o.reason == "OUT_OF_STOCK" => vec![
            customer(
                o.order_id,
                o.customer_id,
                "ORDER_CANCELLED_OUT_OF_STOCK",
                format!(
                    "Sorry, product #{} sold out before your order #{} could be filled; it was cancelled and your payment refunded.",
                    o.product_id, o.order_id
                ),
            ),
            seller(
                o.order_id,
                o.seller_id,
                "OUT_OF_STOCK",
                format!(
                    "Order #{} ({} x product #{}) was cancelled automatically: out of stock.",
                    o.order_id, o.qty, o.product_id
                ),
            ),
        ],
        Event::DeliveryRequested(d) => vec![delivery_notice(
            d,
            "DELIVERY_REQUESTED",
            "has been requested",
        )],
        Event::DeliveryStarted(d) => vec![delivery_notice(d, "DELIVERY_STARTED", "is on its way")],
        Event::DeliveryCompleted(d) => {
            vec![delivery_notice(d, "DELIVERY_COMPLETED", "is complete")]
        }
        Event::DeliveryCancelled(d) => vec![
            delivery_notice(d, "DELIVERY_CANCELLED", "has been cancelled"),
            seller(
                d.order_id,
                d.seller_id,
                "DELIVERY_CANCELLED",
                format!("The delivery of order #{} has been cancelled.", d.order_id),
            ),
        ],
        _ => Vec::new(),
    }
}

/// Stores the notice and announces it, once. Returns the stored notification.
pub async fn notify(
    conn: &mut PgConnection,
    notice: &Notice,
) -> Result<Notification, HandlerError> {
    if let Some(created) = db::insert(conn, notice).await? {
        platform::outbox::enqueue(conn, &announcement(&created)).await?;
        return Ok(created);
    }
    db::find(conn, notice.order_id, notice.recipient, notice.kind)
        .await?
        .ok_or_else(|| HandlerError::Rejected("notification vanished after a conflict".into()))
}

/// Stores and announces the notices not stored yet, in two statements whatever their number.
async fn notify_all(conn: &mut PgConnection, notices: &[Notice]) -> Result<(), HandlerError> {
    if notices.is_empty() {
        return Ok(());
    }
    let created: Vec<Envelope> = db::insert_all(conn, notices)
        .await?
        .iter()
        .map(announcement)
        .collect();
    platform::outbox::enqueue_many(conn, &created).await?;
    Ok(())
}

/// The event that says `created` was sent.
fn announcement(created: &Notification) -> Envelope {
    let notified = Notified {
        notification_id: created.id,
        order_id: created.order_id,
        kind: created.kind.clone(),
    };
    let event = match Recipient::parse(&created.recipient) {
        Some(Recipient::Seller) => Event::SellerNotified(notified),
        _ => Event::CustomerNotified(notified),
    };
    Envelope::new(SERVICE, event)
}
