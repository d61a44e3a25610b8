//! The notifications events cause.

use contracts::{CancelReason, DeliveryChanged, Envelope, Event, Notified};
use platform::UnitOfWork;
use platform::consumer::{EventHandler, HandlerError};

use crate::db::{self, Notification};
use crate::domain::{Notice, NotificationKind, Recipient, won};

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

    /// Every event's notices are stored and announced together, in two statements whatever
    /// their number.
    async fn apply(&self, work: &mut UnitOfWork, batch: &[&Envelope]) -> Result<(), HandlerError> {
        let all: Vec<Notice> = batch.iter().flat_map(|e| notices(&e.event)).collect();
        notify_all(work, &all).await
    }
}

fn customer(order_id: i64, customer_id: i64, kind: NotificationKind, message: String) -> Notice {
    Notice {
        order_id,
        recipient: Recipient::Customer,
        recipient_id: customer_id,
        kind,
        message,
    }
}

fn seller(order_id: i64, seller_id: i64, kind: NotificationKind, message: String) -> Notice {
    Notice {
        order_id,
        recipient: Recipient::Seller,
        recipient_id: seller_id,
        kind,
        message,
    }
}

fn delivery_notice(d: &DeliveryChanged, kind: NotificationKind, what: &str) -> Notice {
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
            NotificationKind::OrderPlaced,
            format!(
                "Your order #{} is confirmed: {} x {}, {} KRW, delivered to {}.",
                o.order_id,
                o.qty,
                o.product_name,
                won(o.amount),
                o.address
            ),
        )],
        Event::OrderCancelled(o) if o.reason == CancelReason::OutOfStock => vec![
            customer(
                o.order_id,
                o.customer_id,
                NotificationKind::OrderCancelledOutOfStock,
                format!(
                    "Sorry, the kit sold out before your order #{} could be filled; it was cancelled and your payment refunded.",
                    o.order_id
                ),
            ),
            seller(
                o.order_id,
                o.seller_id,
                NotificationKind::OutOfStock,
                format!(
                    "Order #{} ({} kits) was cancelled automatically: that kit is out of stock.",
                    o.order_id, o.qty
                ),
            ),
        ],
        Event::DeliveryRequested(d) => vec![delivery_notice(
            d,
            NotificationKind::DeliveryRequested,
            "has been requested",
        )],
        Event::DeliveryStarted(d) => vec![delivery_notice(
            d,
            NotificationKind::DeliveryStarted,
            "is on its way",
        )],
        Event::DeliveryCompleted(d) => {
            vec![delivery_notice(
                d,
                NotificationKind::DeliveryCompleted,
                "is complete",
            )]
        }
        Event::DeliveryCancelled(d) => vec![
            delivery_notice(d, NotificationKind::DeliveryCancelled, "has been cancelled"),
            seller(
                d.order_id,
                d.seller_id,
                NotificationKind::DeliveryCancelled,
                format!("The delivery of order #{} has been cancelled.", d.order_id),
            ),
        ],
        _ => Vec::new(),
    }
}

/// Stores the notice and announces it, once. Returns the stored notification (the first one,
/// when it was stored before).
pub async fn notify(work: &mut UnitOfWork, notice: &Notice) -> Result<Notification, HandlerError> {
    if let Some(created) = db::insert(work, notice).await? {
        work.publish(announcement(&created));
        return Ok(created);
    }
    db::find(work, notice.order_id, notice.recipient, notice.kind)
        .await?
        .ok_or_else(|| HandlerError::Rejected("notification vanished after a conflict".into()))
}

/// Stores and announces the notices not stored yet.
async fn notify_all(work: &mut UnitOfWork, notices: &[Notice]) -> Result<(), HandlerError> {
    if notices.is_empty() {
        return Ok(());
    }
    let created = db::insert_all(work, notices).await?;
    work.publish_all(created.iter().map(announcement));
    Ok(())
}

/// The event that says `created` was sent.
fn announcement(created: &Notification) -> Event {
    let notified = Notified {
        notification_id: created.id,
        order_id: created.order_id,
        kind: created.kind.as_str().to_owned(),
    };
    match created.recipient {
        Recipient::Seller => Event::SellerNotified(notified),
        Recipient::Customer => Event::CustomerNotified(notified),
    }
}
