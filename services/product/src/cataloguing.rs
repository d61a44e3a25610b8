//! A seller's catalog: registering a kit (`ProductRegistered`) and editing it
//! (`ProductUpdated`).

use contracts::{Event, ProductRegistered, ProductUpdated};
use platform::Store;

use crate::db::{self, Product};
use crate::domain::{NewProduct, ProductChanges};

/// Registers `new` and announces it.
pub async fn register(store: &Store, new: &NewProduct) -> sqlx::Result<Product> {
    let mut work = store.begin().await?;
    let product = db::insert(&mut work, new).await?;
    work.publish(Event::ProductRegistered(ProductRegistered {
        product_id: product.id,
        seller_id: product.seller_id,
        name: product.name.clone(),
        price: product.price,
        stock: product.stock,
    }));
    work.commit().await?;
    Ok(product)
}

/// Applies `changes` to kit `id` and announces it; `None` when there is no such kit.
pub async fn edit(
    store: &Store,
    id: i64,
    changes: &ProductChanges,
) -> sqlx::Result<Option<Product>> {
    let mut work = store.begin().await?;
    let Some(product) = db::update(&mut work, id, changes).await? else {
        return Ok(None);
    };
    work.publish(Event::ProductUpdated(ProductUpdated {
        product_id: product.id,
        seller_id: Some(product.seller_id),
        name: product.name.clone(),
        price: product.price,
        stock: product.stock,
    }));
    work.commit().await?;
    Ok(Some(product))
}
