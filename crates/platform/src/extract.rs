//! Extractors that reject with [`ApiError`] (JSON, right status) instead of axum's plain text.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// A JSON body: syntax errors are 400, wrong or missing fields 422, a missing
/// `Content-Type: application/json` 415, a body over the limit 413.
///
/// Integers may be written as integral numbers such as `5.0`: JSON Schema's `integer`, which
/// the OpenAPI documents use, includes them, and serde does not.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with the header Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is larger than this endpoint accepts",
                )
            } else {
                ApiError::bad_request(rejection.body_text())
            }
        })?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection @ JsonRejection::JsonDataError(_)) => {
                // Rare, so the common path parses once: retry with integral floats as integers.
                let mut value: serde_json::Value =
                    serde_json::from_slice(&bytes).map_err(|_| json_rejection(&rejection))?;
                if !integral_floats_to_integers(&mut value) {
                    return Err(json_rejection(&rejection));
                }
                serde_json::from_value(value)
                    .map(Json)
                    .map_err(|_| json_rejection(&rejection))
            }
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

/// `application/json`, or any `application/*+json`, parameters allowed.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Rewrites every number like `5.0` as `5`; says whether it changed anything.
fn integral_floats_to_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => {
                *value = Value::from(f as i64);
                true
            }
            _ => false,
        },
        Value::Array(items) => items.iter_mut().fold(false, |changed, item| {
            integral_floats_to_integers(item) | changed
        }),
        Value::Object(fields) => fields.values_mut().fold(false, |changed, item| {
            integral_floats_to_integers(item) | changed
        }),
        _ => false,
    }
}

/// For a field that may be left out but not sent as `null`:
/// `#[serde(default, deserialize_with = "platform::extract::not_null")]`.
pub fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A body that is not JSON (400) or not the expected shape (422).
fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let status = rejection.status();
    let code = if status == StatusCode::UNPROCESSABLE_ENTITY {
        "invalid_body"
    } else {
        "malformed_json"
    };
    ApiError::new(status, code, rejection.body_text())
}

/// Path parameters: an id that does not parse is a 400 naming the parameter. An id may be
/// written as an integral number such as `5.0`, as in JSON bodies and query strings.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection @ PathRejection::FailedToDeserializePathParams(_)) => {
                match integral_float_id(parts, state).await {
                    Some(value) => Ok(Path(value)),
                    None => Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_path",
                        rejection.body_text(),
                    )),
                }
            }
            Err(rejection) => Err(ApiError::internal(rejection.body_text())),
        }
    }
}

/// The one path parameter, read as an integer, when it is written like `5.0`.
async fn integral_float_id<S: Send + Sync, T: DeserializeOwned>(
    parts: &mut Parts,
    state: &S,
) -> Option<T> {
    use serde::de::IntoDeserializer;
    let params = axum::extract::RawPathParams::from_request_parts(parts, state)
        .await
        .ok()?;
    let mut values = params.iter().map(|(_, value)| value);
    let (Some(value), None) = (values.next(), values.next()) else {
        return None;
    };
    let id: i64 = integral(value)?.parse().ok()?;
    T::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(id)).ok()
}

/// `5` for `5.0` (or `5.000`, `-5.0`); `None` for anything else.
fn integral(value: &str) -> Option<&str> {
    let (whole, fraction) = value.split_once('.')?;
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    let is_integral = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b == b'0');
    is_integral.then_some(whole)
}

/// Query strings: a parameter that does not parse is a 400 naming it. Integers may be written
/// as integral numbers such as `5.0`, as in JSON bodies.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::try_from_uri(&parts.uri) {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => {
                let retried = integral_floats_in_query(parts.uri.query().unwrap_or_default())
                    .and_then(|query| format!("/?{query}").parse::<axum::http::Uri>().ok())
                    .and_then(|uri| axum::extract::Query::<T>::try_from_uri(&uri).ok());
                match retried {
                    Some(axum::extract::Query(value)) => Ok(Query(value)),
                    None => Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_query",
                        rejection.body_text(),
                    )),
                }
            }
        }
    }
}

/// `query` with every value like `5.0` written `5`, if there is one.
fn integral_floats_in_query(query: &str) -> Option<String> {
    let mut changed = false;
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => match integral(value) {
                Some(whole) => {
                    changed = true;
                    format!("{name}={whole}")
                }
                None => pair.to_owned(),
            },
            None => pair.to_owned(),
        })
        .collect();
    changed.then(|| pairs.join("&"))
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

    /// Free text: at most `max` characters; none of them a control character (Postgres cannot
    /// store NUL, and no name or address needs one) or a format character (invisible, and some
    /// reorder the text shown around them: `FORMAT_CHARACTERS`); at least one visible
    /// character, so white space alone is empty. Returns it trimmed.
    ///
    /// Documented on each such field as `maxLength` and the pattern [`TEXT_PATTERN`]; the
    /// property-based API test holds the two to each other.
    pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
        if value.chars().count() > max {
            return Err(ApiError::invalid(format!(
                "{field} must be at most {max} characters"
            )));
        }
        if value.chars().any(char::is_control) {
            return Err(ApiError::invalid(format!(
                "{field} must not contain control characters"
            )));
        }
        if !value.chars().any(|c| !c.is_whitespace() && !is_format(c)) {
            return Err(ApiError::invalid(format!("{field} must not be empty")));
        }
        if value.chars().any(is_format) {
            return Err(ApiError::invalid(format!(
                "{field} must not contain invisible or text-direction characters"
            )));
        }
        Ok(value.trim().to_owned())
    }

    /// What [`text`] accepts, as a regular expression in the syntax JSON Schema's `pattern` and
    /// Python's `re` share (schemathesis generates from it), with ECMA-262's `u` flag as
    /// JSON Schema 2020-12 asks: leading white space, then one or more visible characters each
    /// followed by white space. White space here is neither a control character (a tab, a line
    /// feed) nor U+FEFF, which ECMA-262 counts as white space; a visible character is none of
    /// white space, a control or a format character (`FORMAT_CHARACTERS`, range by range).
    ///
    /// utoipa's `pattern` takes only a string literal: a field says `pattern = "free text"`
    /// ([`FREE_TEXT`]) and [`crate::openapi::complete`] writes this pattern in its place.
    /// What a field's `#[schema(pattern = …)]` says for [`text`]'s rule; see [`TEXT_PATTERN`].
    pub const FREE_TEXT: &str = "free text";

    pub const TEXT_PATTERN: &str = "^[^\\S\\x00-\\x1f\\x7f-\\x9f\\ufeff]*(?:\
        [^\\s\\x00-\\x1f\\x7f-\\x9f\\xad\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\
        \\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb\
        \u{110BD}\u{110CD}\u{13430}-\u{1343F}\u{1BCA0}-\u{1BCA3}\u{1D173}-\u{1D17A}\
        \u{E0001}\u{E0020}-\u{E007F}][^\\S\\x00-\\x1f\\x7f-\\x9f\\ufeff]*)+$";

    /// Unicode's format characters (general category Cf, as of Unicode 17): soft hyphens,
    /// zero-width spaces and joiners, the bidirectional marks, embeddings, overrides and
    /// isolates (U+202E shows what follows it right to left), the byte-order mark, and tags.
    /// None belongs in a name or an address: they hide text or make it read differently from
    /// what is stored. Kept as a table so the rule needs no Unicode crate; [`TEXT_PATTERN`]
    /// lists the same ranges.
    const FORMAT_CHARACTERS: [(char, char); 21] = [
        ('\u{AD}', '\u{AD}'),
        ('\u{600}', '\u{605}'),
        ('\u{61C}', '\u{61C}'),
        ('\u{6DD}', '\u{6DD}'),
        ('\u{70F}', '\u{70F}'),
        ('\u{890}', '\u{891}'),
        ('\u{8E2}', '\u{8E2}'),
        ('\u{180E}', '\u{180E}'),
        ('\u{200B}', '\u{200F}'),
        ('\u{202A}', '\u{202E}'),
        ('\u{2060}', '\u{2064}'),
        ('\u{2066}', '\u{206F}'),
        ('\u{FEFF}', '\u{FEFF}'),
        ('\u{FFF9}', '\u{FFFB}'),
        ('\u{110BD}', '\u{110BD}'),
        ('\u{110CD}', '\u{110CD}'),
        ('\u{13430}', '\u{1343F}'),
        ('\u{1BCA0}', '\u{1BCA3}'),
        ('\u{1D173}', '\u{1D17A}'),
        ('\u{E0001}', '\u{E0001}'),
        ('\u{E0020}', '\u{E007F}'),
    ];

    fn is_format(c: char) -> bool {
        FORMAT_CHARACTERS
            .iter()
            .any(|&(first, last)| (first..=last).contains(&c))
    }
}

/// Card numbers: digits with optional spaces or dashes, 12 to 19 digits once those are removed.
/// Documented as the pattern `^(?:[ -]*[0-9]){12,19}[ -]*$`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_floats_become_integers_and_nothing_else_changes() {
        let mut value = json!({"qty": 5.0, "nested": [1.0, 2.5], "name": "5.0", "id": 7});
        assert!(integral_floats_to_integers(&mut value));
        assert_eq!(
            value,
            json!({"qty": 5, "nested": [1, 2.5], "name": "5.0", "id": 7})
        );
        let mut plain = json!({"qty": 5, "big": 1e300});
        assert!(!integral_floats_to_integers(&mut plain));
    }

    #[test]
    fn integral_floats_in_a_query() {
        assert_eq!(
            integral_floats_in_query("orderId=12.00&limit=5&x=1.5&y=-3.0"),
            Some("orderId=12&limit=5&x=1.5&y=-3".to_owned())
        );
        assert_eq!(integral_floats_in_query("orderId=12&name=.0"), None);
    }

    #[test]
    fn json_content_types() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/jsonx"));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn text_refuses_control_characters_and_counts_before_trimming() {
        assert_eq!(
            check::text("name", "  Kimchi kit ", 20).unwrap(),
            "Kimchi kit"
        );
        for bad in [
            "",
            "   ",
            "a\u{0}b",
            "tab\there",
            "\u{85}x",
            &"x".repeat(21),
        ] {
            assert_eq!(
                check::text("name", bad, 20).unwrap_err().status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{bad:?}"
            );
        }
        assert!(check::text("name", &format!("{} ", "x".repeat(20)), 20).is_err());
    }

    #[test]
    fn text_refuses_invisible_and_text_direction_characters() {
        assert_eq!(
            check::text("name", "Bibimbap kit", 100).unwrap(),
            "Bibimbap kit"
        );
        let message = |value: &str| check::text("name", value, 100).unwrap_err().message;
        assert_eq!(message("\u{200B}"), "name must not be empty");
        assert_eq!(message(" \u{FEFF}\u{2060} "), "name must not be empty");
        for bad in [
            "Bibim\u{FEFF}bap kit",
            "\u{202E}tik pabmibiB",
            "kit\u{E0041}",
        ] {
            assert_eq!(
                message(bad),
                "name must not contain invisible or text-direction characters",
                "{bad:?}"
            );
        }
    }

    /// The documented pattern and the check agree on every character: before a letter, between
    /// letters and between spaces.
    #[test]
    fn the_text_pattern_accepts_exactly_what_the_check_does() {
        let pattern = regex::Regex::new(check::TEXT_PATTERN).unwrap();
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            for value in [format!("{c}a"), format!("a{c}b"), format!(" {c} ")] {
                assert_eq!(
                    pattern.is_match(&value),
                    check::text("name", &value, 10).is_ok(),
                    "{value:?}"
                );
            }
        }
    }
}
