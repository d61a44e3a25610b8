//! OpenAPI documents, generated from the handlers themselves.
//!
//! Each service builds its router as an [`OpenApiRouter`] from handlers annotated with
//! `#[utoipa::path]`, so a route cannot exist without its documentation. [`complete`] then adds
//! what every service shares, so no handler has to repeat it:
//! - the shared endpoints (`/health/live`, `/health/ready`, `/metrics`, `/openapi.json`);
//! - the errors the shared extractors and error mapping produce: `400` for a path or query
//!   parameter that does not parse, `400`/`413`/`415`/`422` for a JSON body, `503` with
//!   `Retry-After` when the database is unreachable, and the opaque `500`;
//! - a tag per service and operation ids prefixed with the service, unique in the gateway's
//!   combined document;
//! - the bearer scheme: every operation needs a token (`401` without one) unless its handler
//!   says `security(())` (the public catalog), so `/docs` can "Authorize".
//!
//! Every error body is [`ErrorBody`]: `{"error": "<machine_code>", "message": "..."}`.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, ObjectBuilder, RefOr, Type};

pub use utoipa::openapi::OpenApi as Document;
pub use utoipa_axum::router::OpenApiRouter;
pub use utoipa_axum::routes;

use crate::error::ErrorBody;

/// Where every service and the gateway serve their document.
pub const PATH: &str = "/openapi.json";

#[derive(OpenApi)]
#[openapi(
    paths(
        crate::health::live,
        crate::health::ready,
        crate::metrics::scrape,
        document
    ),
    components(schemas(ErrorBody))
)]
struct Shared;

/// An empty router whose document will be described by `description` (a service passes its
/// crate's: `router(env!("CARGO_PKG_DESCRIPTION"))`).
pub fn router<S: Clone + Send + Sync + 'static>(description: &str) -> OpenApiRouter<S> {
    let info = utoipa::openapi::InfoBuilder::new()
        .title("mealkit")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(description))
        .build();
    OpenApiRouter::with_openapi(utoipa::openapi::OpenApiBuilder::new().info(info).build())
}

/// The service's own document, finished: shared endpoints and errors, tags, unique ids.
pub fn complete(mut doc: Document, service: &str) -> Document {
    doc.info.title = format!("mealkit {service}");
    for (_, item) in doc.paths.paths.iter_mut() {
        for operation in operations(item) {
            if operation.tags.as_ref().is_none_or(Vec::is_empty) {
                operation.tags = Some(vec![service.to_owned()]);
            }
            if let Some(id) = &operation.operation_id {
                operation.operation_id = Some(format!("{service}.{id}"));
            }
            add_shared_errors(operation);
            require_bearer(operation);
        }
    }
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A token of the configured issuer; locally `POST /auth/dev/token`",
                    ))
                    .build(),
            ),
        );
    let mut shared = Shared::openapi();
    for (_, item) in shared.paths.paths.iter_mut() {
        for operation in operations(item) {
            operation.tags = Some(vec!["operations".to_owned()]);
            if let Some(id) = &operation.operation_id {
                operation.operation_id = Some(format!("{service}.{id}"));
            }
        }
    }
    doc.merge(shared);
    doc
}

/// The route serving `doc` at [`PATH`], serialised once ([`to_json`]).
pub fn route(doc: &Document) -> Router {
    let json: Arc<str> = to_json(doc).into();
    Router::new().route(PATH, get(document)).with_state(json)
}

/// `doc` as JSON, with [`check::TEXT_PATTERN`](crate::extract::check::TEXT_PATTERN) wherever a
/// field said `pattern = "free text"` ([`FREE_TEXT`](crate::extract::check::FREE_TEXT)):
/// utoipa takes only a literal there, and the pattern is long.
pub fn to_json(doc: &Document) -> String {
    use crate::extract::check::{FREE_TEXT, TEXT_PATTERN};
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(fields) => {
                for (name, field) in fields.iter_mut() {
                    if name == "pattern" && field == FREE_TEXT {
                        *field = TEXT_PATTERN.into();
                    } else {
                        walk(field);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(doc).expect("an OpenAPI document always serialises");
    walk(&mut value);
    value.to_string()
}

/// This document (OpenAPI 3.1, JSON).
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)))]
async fn document(State(json): State<Arc<str>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        json.to_string(),
    )
}

/// Every operation of a path item, whatever its method.
pub fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// An error response: `description`, the [`ErrorBody`] schema, and `Retry-After` if it is sent.
pub fn error_response(description: &str, retry_after: bool) -> Response {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                "ErrorBody",
            ))))
            .build(),
    );
    if retry_after {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                .description(Some("Seconds to wait before trying again"))
                .build(),
        );
    }
    response.build()
}

/// Adds `response` for `status` unless the operation documents that status itself; if it does,
/// the descriptions are joined so both causes are listed.
pub fn add_response(operation: &mut Operation, status: &str, response: Response) {
    match operation.responses.responses.get_mut(status) {
        Some(RefOr::T(existing)) => {
            if !existing.description.contains(&response.description) {
                existing.description =
                    format!("{}; {}", existing.description, response.description);
            }
            if existing.content.is_empty() {
                existing.content = response.content;
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            operation
                .responses
                .responses
                .insert(status.to_owned(), RefOr::T(response));
        }
    }
}

/// The security scheme's name in every document.
pub const BEARER: &str = "bearer";

/// An operation that does not declare itself public needs the bearer token.
fn require_bearer(operation: &mut Operation) {
    if operation.security.is_some() {
        return;
    }
    operation.security = Some(vec![SecurityRequirement::new::<_, _, &str>(BEARER, [])]);
    add_response(
        operation,
        "401",
        error_response(
            "no token, or a token that is forged, expired or for another issuer or audience (`unauthenticated`, `invalid_token`)",
            false,
        ),
    );
}

fn add_shared_errors(operation: &mut Operation) {
    let parameters: Vec<ParameterIn> = operation
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) => Some(p.parameter_in.clone()),
            RefOr::Ref(_) => None,
        })
        .collect();
    if parameters.contains(&ParameterIn::Path) {
        add_response(
            operation,
            "400",
            error_response(
                "a path parameter is not a valid integer (`invalid_path`)",
                false,
            ),
        );
    }
    if parameters.contains(&ParameterIn::Query) {
        add_response(
            operation,
            "400",
            error_response(
                "a query parameter is missing or does not parse (`invalid_query`, `bad_request`)",
                false,
            ),
        );
    }
    if operation.request_body.is_some() {
        add_response(
            operation,
            "400",
            error_response("the body is not valid JSON (`malformed_json`)", false),
        );
        add_response(
            operation,
            "413",
            error_response(
                "the body is larger than 64 KiB (`payload_too_large`)",
                false,
            ),
        );
        add_response(
            operation,
            "415",
            error_response(
                "the body is not sent as `application/json` (`unsupported_media_type`)",
                false,
            ),
        );
        add_response(
            operation,
            "422",
            error_response(
                "a field is missing, of the wrong type or out of range (`invalid_body`, `invalid_value`)",
                false,
            ),
        );
    }
    add_response(
        operation,
        "503",
        error_response(
            "the database is unreachable; try again after `Retry-After` seconds (`database_unavailable`)",
            true,
        ),
    );
    add_response(
        operation,
        "500",
        error_response(
            "an unexpected failure on our side, logged; the body never carries details (`internal`)",
            false,
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::check::TEXT_PATTERN;

    #[test]
    fn a_free_text_field_is_documented_with_the_text_pattern() {
        use utoipa::PartialSchema;
        let components = utoipa::openapi::ComponentsBuilder::new()
            .schema("ChargeRequest", contracts::calls::ChargeRequest::schema())
            .schema("SellerAlert", contracts::calls::SellerAlert::schema())
            .build();
        let doc = utoipa::openapi::OpenApiBuilder::new()
            .components(Some(components))
            .build();
        let doc: serde_json::Value = serde_json::from_str(&to_json(&doc)).unwrap();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["ChargeRequest"]["properties"]["address"]["pattern"],
            TEXT_PATTERN
        );
        assert_eq!(
            schemas["SellerAlert"]["properties"]["reason"]["pattern"],
            TEXT_PATTERN
        );
    }
}
