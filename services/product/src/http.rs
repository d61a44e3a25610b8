//! `/products`: register, list, read, edit.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use contracts::{Envelope, Event, ProductRegistered, ProductUpdated};
use platform::error::ApiResult;
use platform::{ApiError, Json, Path, Query};
use serde::Deserialize;
use sqlx::PgPool;

use crate::SERVICE;
use crate::db::{self, Product};
use crate::domain::{NewProduct, ProductChanges};

pub fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/products", get(list).post(register))
        .route("/products/{id}", get(read).patch(edit))
        .with_state(pool)
}

type State = axum::extract::State<PgPool>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Register {
    seller_id: i64,
    name: String,
    price: i64,
    stock: i64,
}

async fn register(
    axum::extract::State(state): State,
    Json(body): Json<Register>,
) -> ApiResult<impl IntoResponse> {
    let new = NewProduct::parse(body.seller_id, &body.name, body.price, body.stock)?;
    let mut tx = state.begin().await?;
    let product = db::insert(&mut tx, &new).await?;
    let event = Event::ProductRegistered(ProductRegistered {
        product_id: product.id,
        seller_id: product.seller_id,
        name: product.name.clone(),
        price: product.price,
        stock: product.stock,
    });
    platform::outbox::enqueue(&mut tx, &Envelope::new(SERVICE, event)).await?;
    tx.commit().await?;
    let location = format!("/products/{}", product.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(product),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Edit {
    name: Option<String>,
    price: Option<i64>,
    stock: Option<i64>,
}

async fn edit(
    axum::extract::State(state): State,
    Path(id): Path<i64>,
    Json(body): Json<Edit>,
) -> ApiResult<axum::Json<Product>> {
    let changes = ProductChanges::parse(body.name.as_deref(), body.price, body.stock)?;
    let mut tx = state.begin().await?;
    let product = db::update(&mut tx, id, &changes)
        .await?
        .ok_or_else(|| ApiError::not_found("product", id))?;
    let event = Event::ProductUpdated(ProductUpdated {
        product_id: product.id,
        seller_id: Some(product.seller_id),
        name: product.name.clone(),
        price: product.price,
        stock: product.stock,
    });
    platform::outbox::enqueue(&mut tx, &Envelope::new(SERVICE, event)).await?;
    tx.commit().await?;
    Ok(axum::Json(product))
}

async fn read(
    axum::extract::State(state): State,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Product>> {
    let mut conn = state.acquire().await?;
    db::find(&mut conn, id)
        .await?
        .map(axum::Json)
        .ok_or_else(|| ApiError::not_found("product", id))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    seller_id: Option<i64>,
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    100
}

async fn list(
    axum::extract::State(state): State,
    Query(query): Query<ListQuery>,
) -> ApiResult<axum::Json<Vec<Product>>> {
    platform::extract::check::range("limit", query.limit, 1, 500)?;
    platform::extract::check::range("offset", query.offset, 0, i64::MAX)?;
    let mut conn = state.acquire().await?;
    Ok(axum::Json(
        db::list(&mut conn, query.seller_id, query.limit, query.offset).await?,
    ))
}
