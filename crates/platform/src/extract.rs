//! Extractors that reject with [`ApiError`] (JSON, right status) instead of axum's plain text.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// A JSON body: syntax errors are 400, wrong or missing fields 422, a missing
/// `Content-Type: application/json` 415, a body over the limit 413.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        _ => "malformed_json",
    };
    let message = match &rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "send the body as JSON with the header Content-Type: application/json".to_owned()
        }
        JsonRejection::BytesRejection(_) if status == StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is larger than this endpoint accepts".to_owned()
        }
        other => other.body_text(),
    };
    ApiError::new(status, code, message)
}

/// Path parameters: an id that does not parse is a 400 naming the parameter.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection @ PathRejection::FailedToDeserializePathParams(_)) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_path",
                rejection.body_text(),
            )),
            Err(rejection) => Err(ApiError::internal(rejection.body_text())),
        }
    }
}

/// Query strings: a parameter that does not parse is a 400 naming it.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection @ QueryRejection::FailedToDeserializeQueryString(_)) => {
                Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    rejection.body_text(),
                ))
            }
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// Checks for handlers: each returns a 422 naming the field.
pub mod check {
    use super::ApiError;

    pub fn positive(field: &str, value: i64) -> Result<(), ApiError> {
        if value > 0 {
            Ok(())
        } else {
            Err(ApiError::invalid(format!(
                "{field} must be a positive integer"
            )))
        }
    }

    pub fn range(field: &str, value: i64, min: i64, max: i64) -> Result<(), ApiError> {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(ApiError::invalid(format!(
                "{field} must be between {min} and {max}"
            )))
        }
    }

    /// A query parameter the endpoint cannot do without: 400 naming it when absent.
    pub fn required<T>(name: &str, value: Option<T>) -> Result<T, ApiError> {
        value
            .ok_or_else(|| ApiError::bad_request(format!("the query parameter {name} is required")))
    }

    /// Trims `value` and requires 1..=max characters.
    pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(ApiError::invalid(format!("{field} must not be empty")));
        }
        if trimmed.chars().count() > max {
            return Err(ApiError::invalid(format!(
                "{field} must be at most {max} characters"
            )));
        }
        Ok(trimmed.to_owned())
    }
}

/// Card numbers: digits with optional spaces or dashes, 12 to 19 digits once those are removed.
pub fn card_number(value: &str) -> Result<String, ApiError> {
    let digits: String = value.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if (12..=19).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(ApiError::invalid(
            "cardNumber must be 12 to 19 digits (spaces and dashes allowed)",
        ))
    }
}
