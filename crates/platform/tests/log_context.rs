//! Every line a service logs while serving a request carries that request's id, whether the
//! caller sent one (`x-request-id`) or the service made it up (and answered it).

use axum::Router;
use axum::routing::get;
use platform::health::Health;
use platform::service::{App, MetricsAt};
use platform::telemetry::Captured;

fn request_id_of(line: &serde_json::Value) -> Option<&str> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|span| span["name"] == "request")?["request_id"]
        .as_str()
}

// One thread: the server's tasks run where the test's subscriber is the default.
#[tokio::test(flavor = "current_thread")]
async fn every_line_written_while_serving_a_request_names_it() {
    let captured = Captured::default();
    let _default = tracing::subscriber::set_default(captured.subscriber());
    let routes = Router::new().route(
        "/work",
        get(|| async {
            tracing::info!("doing the work");
            "done"
        }),
    );
    let verifier = platform::auth::Verifier::new(platform::auth::AuthSettings::for_dev_issuer(
        "http://127.0.0.1:9",
    ))
    .unwrap();
    let app = App::bind(
        "127.0.0.1",
        0,
        MetricsAt::SamePort,
        routes,
        Health::default(),
        verifier,
        Vec::new(),
    )
    .await
    .unwrap();
    let url = format!("http://{}/work", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();

    let named = http
        .get(&url)
        .header("x-request-id", "order-42-attempt-1")
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), 200);
    let unnamed = http.get(&url).send().await.unwrap();
    let made_up = unnamed.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(made_up.len(), 36, "a UUID: {made_up}");

    let lines = captured.lines_saying("doing the work");
    let ids: Vec<Option<&str>> = lines.iter().map(request_id_of).collect();
    assert_eq!(
        ids,
        [Some("order-42-attempt-1"), Some(made_up.as_str())],
        "{lines:?}"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
