//! Kits, their rules, and what an order did to the stock. No I/O.

use platform::ApiError;
use platform::extract::check;

/// A kit's name, in characters: what a product card shows on a line or two.
pub const MAX_NAME: usize = 100;
pub const MAX_PRICE: i64 = 100_000_000;
pub const MAX_STOCK: i64 = 1_000_000;

contracts::labels! {
    /// What taking an order's stock came to: taken, short (nothing taken), or void (the order
    /// was cancelled before its stock was taken, so a late payment takes none).
    pub enum MovementOutcome {
        Decreased = "DECREASED",
        Shortage = "SHORTAGE",
        Void = "VOID",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub seller_id: i64,
    pub name: String,
    pub price: i64,
    pub stock: i32,
}

impl NewProduct {
    pub fn parse(seller_id: i64, name: &str, price: i64, stock: i64) -> Result<Self, ApiError> {
        check::positive("sellerId", seller_id)?;
        let name = check::text("name", name, MAX_NAME)?;
        check::range("price", price, 0, MAX_PRICE)?;
        check::range("stock", stock, 0, MAX_STOCK)?;
        Ok(Self {
            seller_id,
            name,
            price,
            stock: stock as i32,
        })
    }
}

/// A partial update; at least one field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductChanges {
    pub name: Option<String>,
    pub price: Option<i64>,
    pub stock: Option<i32>,
}

impl ProductChanges {
    pub fn parse(
        name: Option<&str>,
        price: Option<i64>,
        stock: Option<i64>,
    ) -> Result<Self, ApiError> {
        if name.is_none() && price.is_none() && stock.is_none() {
            return Err(ApiError::invalid("send at least one of name, price, stock"));
        }
        let name = name.map(|n| check::text("name", n, MAX_NAME)).transpose()?;
        if let Some(price) = price {
            check::range("price", price, 0, MAX_PRICE)?;
        }
        if let Some(stock) = stock {
            check::range("stock", stock, 0, MAX_STOCK)?;
        }
        Ok(Self {
            name,
            price,
            stock: stock.map(|s| s as i32),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_rules() {
        assert!(NewProduct::parse(1, " Kimchi stew kit ", 12_900, 10).is_ok());
        assert_eq!(NewProduct::parse(1, " a ", 1, 1).unwrap().name, "a");
        for bad in [
            NewProduct::parse(0, "x", 1, 1),
            NewProduct::parse(1, "  ", 1, 1),
            NewProduct::parse(1, "x", -1, 1),
            NewProduct::parse(1, "x", 1, -1),
            NewProduct::parse(1, &"x".repeat(MAX_NAME + 1), 1, 1),
            NewProduct::parse(1, "x", 1, MAX_STOCK + 1),
        ] {
            assert_eq!(bad.unwrap_err().status.as_u16(), 422);
        }
    }

    #[test]
    fn a_kit_name_has_at_most_100_characters() {
        let name = "k".repeat(100);
        assert_eq!(NewProduct::parse(1, &name, 1, 1).unwrap().name, name);
        let longer = "k".repeat(101);
        for refused in [
            NewProduct::parse(1, &longer, 1, 1).map(drop),
            ProductChanges::parse(Some(&longer), None, None).map(drop),
        ] {
            let error = refused.unwrap_err();
            assert_eq!(error.status.as_u16(), 422);
            assert_eq!(error.message, "name must be at most 100 characters");
        }
    }

    #[test]
    fn an_empty_patch_is_refused() {
        assert!(ProductChanges::parse(None, None, None).is_err());
        assert!(ProductChanges::parse(None, Some(5), None).is_ok());
        assert!(ProductChanges::parse(None, None, Some(-3)).is_err());
    }
}
