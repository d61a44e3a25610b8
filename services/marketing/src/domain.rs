/// Who a notification is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    Customer,
    Seller,
}

impl Recipient {
    pub fn as_str(self) -> &'static str {
        match self {
            Recipient::Customer => "CUSTOMER",
            Recipient::Seller => "SELLER",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_uppercase().as_str() {
            "CUSTOMER" => Some(Recipient::Customer),
            "SELLER" => Some(Recipient::Seller),
            _ => None,
        }
    }
}

/// A notification to store and announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub order_id: i64,
    pub recipient: Recipient,
    pub recipient_id: i64,
    pub kind: &'static str,
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
        assert_eq!(Recipient::parse("seller"), Some(Recipient::Seller));
        assert_eq!(Recipient::parse("nobody"), None);
    }
}
