//! Notices and who they are for. No I/O.

contracts::labels! {
    /// Who a notification is for.
    pub enum Recipient {
        Customer = "CUSTOMER",
        Seller = "SELLER",
    }
}

impl Recipient {
    /// Reads a recipient given by a person, in any case.
    pub fn parse_loosely(value: &str) -> Option<Self> {
        Self::parse(&value.to_ascii_uppercase())
    }
}

contracts::labels! {
    /// What a notification is about: one of each per order and recipient.
    pub enum NotificationKind {
        OrderPlaced = "ORDER_PLACED",
        OrderCancelledOutOfStock = "ORDER_CANCELLED_OUT_OF_STOCK",
        OutOfStock = "OUT_OF_STOCK",
        CancelRequested = "CANCEL_REQUESTED",
        DeliveryRequested = "DELIVERY_REQUESTED",
        DeliveryStarted = "DELIVERY_STARTED",
        DeliveryCompleted = "DELIVERY_COMPLETED",
        DeliveryCancelled = "DELIVERY_CANCELLED",
    }
}

/// A notification to store and announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub order_id: i64,
    pub recipient: Recipient,
    pub recipient_id: i64,
    pub kind: NotificationKind,
    pub message: String,
}

/// `12900` → `12,900`.
pub fn won(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if amount < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped() {
        assert_eq!(won(0), "0");
        assert_eq!(won(900), "900");
        assert_eq!(won(12_900), "12,900");
        assert_eq!(won(1_234_567), "1,234,567");
    }

    #[test]
    fn recipients_parse_case_insensitively() {
        assert_eq!(Recipient::parse_loosely("seller"), Some(Recipient::Seller));
        assert_eq!(Recipient::parse_loosely("nobody"), None);
    }
}
