//! `/products`: register, list, read, edit.

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use platform::error::{ApiResult, ErrorBody};
use platform::openapi::{OpenApiRouter, routes};
use platform::{ApiError, Caller, Json, Party, Path, Query, Role, Store};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::cataloguing;
use crate::db::{self, Product};
use crate::domain::{NewProduct, ProductChanges};

pub fn router(store: Store) -> OpenApiRouter {
    platform::openapi::router(env!("CARGO_PKG_DESCRIPTION"))
        .routes(routes!(list, register))
        .routes(routes!(read, edit))
        .with_state(store)
}

type State = axum::extract::State<Store>;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Register {
    /// The signed-in seller's id; optional (a different one is refused with `403`).
    #[schema(minimum = 1)]
    seller_id: Option<i64>,
    /// Trimmed before it is stored.
    #[schema(max_length = 100, pattern = "free text")]
    name: String,
    /// In won.
    #[schema(minimum = 0, maximum = 100_000_000)]
    price: i64,
    #[schema(minimum = 0, maximum = 1_000_000)]
    stock: i64,
}

/// Registers a meal kit (`ProductRegistered`).
#[utoipa::path(post, path = "/products",
    request_body = Register,
    responses(
        (status = 201, description = "Registered", body = Product,
            headers(("Location" = String, description = "The new product's URL"))),
        (status = 403, description = "Not a seller, or `sellerId` names another seller (`forbidden`)", body = ErrorBody),
    ))]
async fn register(
    axum::extract::State(store): State,
    caller: Caller,
    Json(body): Json<Register>,
) -> ApiResult<impl IntoResponse> {
    let seller_id = caller.own_id(Role::Seller, body.seller_id)?;
    let new = NewProduct::parse(seller_id, &body.name, body.price, body.stock)?;
    let product = cataloguing::register(&store, &new).await?;
    let location = format!("/products/{}", product.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(product),
    ))
}

/// The fields to change, at least one. Unknown fields are refused, so a misspelt one is not
/// silently ignored.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(min_properties = 1)]
struct Edit {
    #[serde(default, deserialize_with = "platform::extract::not_null")]
    #[schema(nullable = false, max_length = 100, pattern = "free text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "platform::extract::not_null")]
    #[schema(nullable = false, minimum = 0, maximum = 100_000_000)]
    price: Option<i64>,
    #[serde(default, deserialize_with = "platform::extract::not_null")]
    #[schema(nullable = false, minimum = 0, maximum = 1_000_000)]
    stock: Option<i64>,
}

/// Edits a kit's name, price or stock (`ProductUpdated`).
#[utoipa::path(patch, path = "/products/{id}",
    params(("id" = i64, Path, description = "The product's id")),
    request_body = Edit,
    responses(
        (status = 200, description = "The product as changed", body = Product),
        (status = 403, description = "Not the kit's seller (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such product (`not_found`)", body = ErrorBody),
    ))]
async fn edit(
    axum::extract::State(store): State,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Edit>,
) -> ApiResult<axum::Json<Product>> {
    let changes = ProductChanges::parse(body.name.as_deref(), body.price, body.stock)?;
    // A kit never changes hands, so checking its seller before the edit cannot go stale.
    let mut conn = store.read().await?;
    let product = db::find(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("product", id))?;
    drop(conn);
    caller.must_be(&[Party::Seller(product.seller_id)], "the kit's seller")?;
    cataloguing::edit(&store, id, &changes)
        .await?
        .map(axum::Json)
        .ok_or_else(|| ApiError::not_found("product", id))
}

/// One product.
#[utoipa::path(get, path = "/products/{id}", security(()),
    params(("id" = i64, Path, description = "The product's id")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 404, description = "No such product (`not_found`)", body = ErrorBody),
    ))]
async fn read(
    axum::extract::State(store): State,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Product>> {
    let mut conn = store.read().await?;
    db::find(&mut conn, id)
        .await?
        .map(axum::Json)
        .ok_or_else(|| ApiError::not_found("product", id))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this seller's kits.
    seller_id: Option<i64>,
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 500, default = 100)]
    limit: i64,
    #[serde(default)]
    #[param(minimum = 0, default = 0)]
    offset: i64,
}

fn default_limit() -> i64 {
    100
}

/// The catalog, oldest first.
#[utoipa::path(get, path = "/products", security(()),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of products", body = Vec<Product>),
        (status = 422, description = "`limit` or `offset` out of range (`invalid_value`)", body = ErrorBody),
    ))]
async fn list(
    axum::extract::State(store): State,
    Query(query): Query<ListQuery>,
) -> ApiResult<axum::Json<Vec<Product>>> {
    platform::extract::check::range("limit", query.limit, 1, 500)?;
    platform::extract::check::range("offset", query.offset, 0, i64::MAX)?;
    let mut conn = store.read().await?;
    Ok(axum::Json(
        db::list(&mut conn, query.seller_id, query.limit, query.offset).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MAX_NAME;
    use platform::extract::check::FREE_TEXT;

    /// utoipa takes the name's limits as literals; they must say what the domain checks.
    #[test]
    fn the_documented_name_is_the_checked_one() {
        for schema in [
            <Register as utoipa::PartialSchema>::schema(),
            <Edit as utoipa::PartialSchema>::schema(),
        ] {
            let schema = serde_json::to_value(schema).unwrap();
            let name = &schema["properties"]["name"];
            assert_eq!(name["maxLength"], MAX_NAME, "{name}");
            assert_eq!(name["pattern"], FREE_TEXT, "{name}");
        }
    }
}
