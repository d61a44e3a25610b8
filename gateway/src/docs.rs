//! The combined API document (`/openapi.json`) and its docs page (`/docs`).
//!
//! The document is assembled on each request from the services' own `/openapi.json`, so it
//! describes the versions actually deployed behind this gateway. Only the paths the gateway
//! routes are kept (a service's `/health/*` and `/metrics` are not reachable through it), each
//! operation gains the errors the gateway itself answers with, and the gateway's own endpoints
//! are added. A service that cannot be reached is left out and named in the description, so the
//! page still works while one service is down.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use platform::openapi::{self, Document};
use serde_json::{Map, Value, json};
use utoipa_swagger_ui::{Config, SwaggerUi};

/// How long the gateway waits for a service's document.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
struct Docs {
    http: reqwest::Client,
    /// (path prefix, service name, base URL)
    upstreams: Arc<Vec<(String, String, String)>>,
    /// The gateway's own part: shared endpoints, error schema.
    own: Arc<Value>,
}

/// `/openapi.json` and the Swagger UI at `/docs`.
pub fn routes(http: reqwest::Client, upstreams: Vec<(String, String, String)>) -> Router {
    let own = openapi::complete(
        openapi::router::<()>("The gateway: one entry point for every public path.").into_openapi(),
        "gateway",
    );
    let mut own = to_value(&own);
    // Not on this port: the gateway's `/metrics` has a port of its own (`METRICS_PORT`).
    if let Some(paths) = own["paths"].as_object_mut() {
        paths.remove("/metrics");
    }
    let docs = Docs {
        http,
        upstreams: Arc::new(upstreams),
        own: Arc::new(own),
    };
    let ui = SwaggerUi::new("/docs").config(Config::from(openapi::PATH));
    Router::new()
        .route(openapi::PATH, get(combined))
        .with_state(docs)
        .merge(Router::from(ui))
}

fn to_value(doc: &Document) -> Value {
    serde_json::to_value(doc).expect("an OpenAPI document always serialises")
}

async fn combined(State(docs): State<Docs>) -> impl IntoResponse {
    let fetches = docs.upstreams.iter().map(|(prefix, service, base)| {
        let http = docs.http.clone();
        async move {
            let url = format!("{base}{}", openapi::PATH);
            let fetched = async {
                http.get(&url)
                    .timeout(FETCH_TIMEOUT)
                    .send()
                    .await?
                    .error_for_status()?
                    .json::<Value>()
                    .await
            }
            .await;
            (prefix.as_str(), service.as_str(), fetched)
        }
    });
    let fetched = futures::future::join_all(fetches).await;
    let mut doc = (*docs.own).clone();
    let mut missing = Vec::new();
    for (prefix, service, result) in fetched {
        match result {
            Ok(part) => merge(&mut doc, prefix, part),
            Err(err) => {
                tracing::warn!(service, error = %err, "service document unavailable");
                missing.push(service);
            }
        }
    }
    doc["info"]["title"] = json!("mealkit");
    doc["info"]["description"] = json!(description(&missing));
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.to_string(),
    )
}

fn description(missing: &[&str]) -> String {
    let mut text = "The meal-kit shop's public API, through the gateway: sellers register kits, \
                    customers order, pay, receive or cancel; sellers follow their orders and \
                    cancellations on the seller page."
        .to_owned();
    if !missing.is_empty() {
        text.push_str(&format!(
            "\n\nNot included, unreachable just now: {}.",
            missing.join(", ")
        ));
    }
    text
}

/// Adds `part`'s paths that the gateway routes by `prefix` (see [`crate::route_of`]) and its
/// schemas to `doc`, with the gateway's errors.
fn merge(doc: &mut Value, prefix: &str, part: Value) {
    if let Some(Value::Object(paths)) = part.get("paths") {
        for (path, item) in paths {
            if crate::route_of(path) != prefix {
                continue;
            }
            let mut item = item.clone();
            if let Value::Object(operations) = &mut item {
                // The calls between services are never routed, so never shown.
                operations.retain(|method, _| !contracts::calls::is_internal(method, path));
                if operations.is_empty() {
                    continue;
                }
                for operation in operations.values_mut() {
                    add_gateway_errors(operation);
                }
            }
            object(doc, &["paths"]).insert(path.clone(), item);
        }
    }
    if let Some(Value::Object(schemes)) = part.pointer("/components/securitySchemes") {
        let into = object(doc, &["components", "securitySchemes"]);
        for (name, scheme) in schemes {
            into.entry(name.clone()).or_insert_with(|| scheme.clone());
        }
    }
    if let Some(Value::Object(schemas)) = part.pointer("/components/schemas") {
        let into = object(doc, &["components", "schemas"]);
        for (name, schema) in schemas {
            into.entry(name.clone()).or_insert_with(|| schema.clone());
        }
    }
}

/// The object at `path` in `value`, created if absent.
fn object<'a>(value: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut at = value;
    for key in path {
        at = at
            .as_object_mut()
            .expect("the document's containers are objects")
            .entry(*key)
            .or_insert_with(|| json!({}));
    }
    at.as_object_mut()
        .expect("the document's containers are objects")
}

/// The answers the gateway gives for any routed operation when the service cannot.
fn add_gateway_errors(operation: &mut Value) {
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (status, description, retry_after) in [
        (
            "408",
            "the request's body did not arrive in time (`request_timeout`): within 30 s with a valid token, 2 s without one",
            false,
        ),
        (
            "413",
            "the body is larger than 64 KiB (`payload_too_large`)",
            false,
        ),
        (
            "429",
            "too many requests from this caller or address (`rate_limited`); try again after `Retry-After` seconds",
            true,
        ),
        (
            "502",
            "the service gave no valid answer (`bad_gateway`)",
            false,
        ),
        (
            "503",
            "the service is unreachable (`upstream_unavailable`), or the gateway has too many requests in flight (`overloaded`); try again after `Retry-After` seconds",
            true,
        ),
        (
            "504",
            "the service did not answer in time (`upstream_timeout`)",
            false,
        ),
    ] {
        let response = to_response(openapi::error_response(description, retry_after));
        match responses.get_mut(status) {
            Some(existing) => {
                let joined = format!(
                    "{}; {description}",
                    existing["description"].as_str().unwrap_or_default()
                );
                existing["description"] = json!(joined);
                if retry_after && existing.pointer("/headers/Retry-After").is_none() {
                    existing["headers"] = response["headers"].clone();
                }
            }
            None => {
                responses.insert(status.to_owned(), response);
            }
        }
    }
}

fn to_response(response: utoipa::openapi::response::Response) -> Value {
    serde_json::to_value(response).expect("an OpenAPI response always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_routed_paths_are_merged_with_the_gateway_errors() {
        let mut doc = json!({"paths": {}});
        let part = json!({
            "paths": {
                "/orders": {"post": {"responses": {"201": {"description": "placed"},
                                                   "503": {"description": "payment down"}}}},
                "/orders/{id}": {"get": {"responses": {"200": {"description": "ok"}}}},
                "/health/ready": {"get": {"responses": {"200": {"description": "ready"}}}},
                "/ordersx": {"get": {"responses": {}}}
            },
            "components": {"schemas": {"Order": {"type": "object"}}}
        });
        merge(&mut doc, "orders", part);
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(
            paths.keys().collect::<Vec<_>>(),
            ["/orders", "/orders/{id}"]
        );
        let post = &doc["paths"]["/orders"]["post"]["responses"];
        assert!(post["502"].is_object() && post["504"].is_object());
        let unavailable = post["503"]["description"].as_str().unwrap();
        assert!(unavailable.starts_with("payment down; the service is unreachable"));
        assert!(post["503"]["headers"]["Retry-After"].is_object());
        assert!(doc["components"]["schemas"]["Order"].is_object());
    }

    #[test]
    fn an_orders_journey_is_documented_with_the_read_side_that_answers_it() {
        let part = json!({"paths": {
            "/sellers/{sellerId}/orders": {"get": {"responses": {}}},
            "/orders/{orderId}/journey": {"get": {"responses": {}}}
        }});
        let mut read_side = json!({"paths": {}});
        merge(&mut read_side, "sellers", part.clone());
        let paths = read_side["paths"].as_object().unwrap();
        assert_eq!(
            paths.keys().collect::<Vec<_>>(),
            ["/orders/{orderId}/journey", "/sellers/{sellerId}/orders"]
        );
        let mut orders = json!({"paths": {}});
        merge(&mut orders, "orders", part);
        assert!(orders["paths"].as_object().unwrap().is_empty());
    }

    #[test]
    fn calls_between_services_are_left_out() {
        let mut doc = json!({"paths": {}});
        let part = json!({
            "paths": {
                "/payments": {"get": {"responses": {}}, "post": {"responses": {}}},
                "/payments/{id}": {"get": {"responses": {}}}
            },
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
        });
        merge(&mut doc, "payments", part);
        assert!(doc["paths"]["/payments"]["get"].is_object());
        assert!(doc["paths"]["/payments"].get("post").is_none());
        let mut alerts = json!({"paths": {}});
        let part = json!({"paths": {
            "/notifications/seller-alerts": {"post": {"responses": {}}},
            "/notifications": {"get": {"responses": {}}}
        }});
        merge(&mut alerts, "notifications", part);
        let paths = alerts["paths"].as_object().unwrap();
        assert_eq!(paths.keys().collect::<Vec<_>>(), ["/notifications"]);
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
