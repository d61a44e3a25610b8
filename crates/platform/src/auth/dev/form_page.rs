//! The dev issuer's sign-in form, as HTML: the demo people, a role and an id, and the
//! authorization request carried along in hidden fields. Everything echoed from the request is
//! escaped, so a crafted link cannot put markup on the page, and no other site may frame it
//! (`frame-ancestors 'none'`, `X-Frame-Options: DENY`): a framed sign-in form is a clickjacking
//! target.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::PersonRole;
use super::login::AuthorizeRequest;

/// The people the sign-in form offers with one click (the README's scenario uses them).
const DEMO_PEOPLE: [(&str, PersonRole, i64); 4] = [
    ("Alice", PersonRole::Customer, 42),
    ("Bob", PersonRole::Customer, 43),
    ("Seoul Kitchen", PersonRole::Seller, 7),
    ("Busan Table", PersonRole::Seller, 8),
];

/// The name of the demo person who is `role` `id`, if one is.
pub(super) fn demo_name(role: PersonRole, id: i64) -> Option<&'static str> {
    DEMO_PEOPLE
        .iter()
        .find(|(_, demo_role, demo_id)| (*demo_role, *demo_id) == (role, id))
        .map(|(name, ..)| *name)
}

pub(super) fn refused(reason: &str) -> Response {
    let body = format!(
        "<h1>This sign-in link cannot be used</h1><p>{}.</p><p><a href=\"/\">Back to the shop</a></p>",
        escape(reason)
    );
    framed_by_none(StatusCode::BAD_REQUEST, &body)
}

pub(super) fn page(
    status: StatusCode,
    request: &AuthorizeRequest,
    error: Option<&str>,
) -> Response {
    let hidden: String = [
        ("response_type", &request.response_type),
        ("client_id", &request.client_id),
        ("redirect_uri", &request.redirect_uri),
        ("state", &request.state),
        ("code_challenge", &request.code_challenge),
        ("code_challenge_method", &request.code_challenge_method),
    ]
    .iter()
    .map(|(name, value)| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(value)
        )
    })
    .collect();
    let demos: String = DEMO_PEOPLE
        .iter()
        .map(|(name, role, id)| {
            format!("<button type=\"submit\" name=\"as\" value=\"{role}:{id}\">{name} ({role} {id})</button>")
        })
        .collect();
    let roles: String = [
        PersonRole::Customer,
        PersonRole::Seller,
        PersonRole::Courier,
        PersonRole::Admin,
    ]
    .iter()
    .map(|role| {
        let checked = if *role == PersonRole::Customer {
            " checked"
        } else {
            ""
        };
        format!(
            "<label><input type=\"radio\" name=\"role\" value=\"{role}\"{checked}> {role}</label>"
        )
    })
    .collect();
    let error = error
        .map(|message| format!("<p role=\"alert\" class=\"error\">{}</p>", escape(message)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in to the meal-kit shop</h1>\
         <p>This is the local dev issuer: anyone may be anyone, no password. A real deployment \
         signs in with its OIDC issuer instead.</p>{error}\
         <form method=\"post\" action=\"/auth/dev/authorize\">{hidden}\
         <h2>Demo people</h2><div class=\"demos\">{demos}</div></form>\
         <form method=\"post\" action=\"/auth/dev/authorize\">{hidden}\
         <h2>Or anyone</h2><fieldset><legend>Role</legend>{roles}</fieldset>\
         <label for=\"id\">Id (a positive whole number)</label>\
         <input id=\"id\" name=\"id\" type=\"number\" min=\"1\" step=\"1\" value=\"1\" required>\
         <button type=\"submit\">Sign in</button></form>"
    );
    framed_by_none(status, &body)
}

/// The page around `body`, with the headers that forbid framing it.
fn framed_by_none(status: StatusCode, body: &str) -> Response {
    let framing = [
        (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    (status, framing, Html(document(body))).into_response()
}

fn document(body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign in · Meal-kit shop</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>"
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f4ef;color:#1d1d1b}\
main{max-width:32rem;margin:2rem auto;padding:1rem 1.25rem;background:#fff;border-radius:8px}\
button{font:inherit;padding:.6rem 1rem;margin:.25rem .25rem .25rem 0;border:0;border-radius:6px;background:#2f6b3a;color:#fff;cursor:pointer}\
button:focus-visible,input:focus-visible{outline:3px solid #e0a100;outline-offset:2px}\
fieldset{border:1px solid #ccc;border-radius:6px;margin:0 0 1rem}\
fieldset label{display:inline-block;margin-right:1rem}\
label[for]{display:block;margin:.5rem 0 .25rem}input[type=number]{font:inherit;padding:.5rem;width:10rem}\
.error{background:#fde8e8;color:#8a1c1c;padding:.5rem .75rem;border-radius:6px}";

/// Escapes text for HTML content and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn echoed_values_cannot_leave_their_attribute() {
        assert_eq!(escape("\"><script>"), "&quot;&gt;&lt;script&gt;");
    }
}
