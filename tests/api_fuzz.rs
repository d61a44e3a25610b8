//! Fuzzing the edges: every service documents its API at `/openapi.json`, the gateway combines
//! them, and schemathesis (from PyPI, installed by `./dev test`) throws schema-valid and
//! schema-violating requests at each document with every check enabled: no 5xx, no status,
//! content type, header or body the document does not declare, invalid input refused, valid
//! input accepted. The exceptions, each with its reason, are in `tests/schemathesis.toml`.
//!
//! `MEALKIT_FUZZ_EXAMPLES` (default 50 per operation) and `MEALKIT_FUZZ_SEED` (default fixed,
//! so CI is reproducible) make longer or different runs.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
mod support;
use support::{
    get, place_order, register_kit, service_token, sign_in, start_stack, stop_stack, token,
};

const SCHEMATHESIS_TIMEOUT: Duration = Duration::from_secs(900);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_document_holds_against_generated_requests() {
    let mut stack = start_stack(&[]).await;
    let g = stack.gateway_url.clone();
    let http = sign_in(&g, "customer", 1).await;

    // Something to find: generated ids hit a real product and order now and then.
    let product = register_kit(&g, 1, 1_000).await;
    let (status, order) = place_order(
        &http,
        &g,
        json!({"productId": product, "qty": 1, "customerId": 1}),
    )
    .await;
    assert_eq!(status, 201, "{order}");

    // Each document is fuzzed signed in as whoever uses most of it; schemathesis also sends each
    // secured operation without the token and expects 401 (its `ignored_auth` check).
    let service_bearer = service_token(&stack).await;
    for (service, _) in stack::SERVICES {
        let bearer = match service {
            "payment" => service_bearer.clone(),
            "order" => token(&g, "customer", 1).await,
            "delivery" => token(&g, "courier", 1).await,
            _ => token(&g, "seller", 1).await,
        };
        let url = stack.service_url(service);
        let doc = get(&http, format!("{url}/openapi.json")).await;
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], format!("mealkit {service}"));
        for shared in ["/health/live", "/health/ready", "/metrics", "/openapi.json"] {
            assert!(doc["paths"][shared].is_object(), "{service} lacks {shared}");
        }
        schemathesis(service, &format!("{url}/openapi.json"), &bearer).await;
    }

    let combined = get(&http, format!("{g}/openapi.json")).await;
    for (path, service) in [
        ("/products/{id}", "product"),
        ("/orders/{id}/cancel", "order"),
        ("/payments", "payment"),
        ("/deliveries/{id}/start", "delivery"),
        ("/notifications", "marketing"),
        ("/sellers/{sellerId}/cancellations", "sellerpage"),
    ] {
        let item = &combined["paths"][path];
        assert!(item.is_object(), "the combined document lacks {path}");
        let operation = item.as_object().unwrap().values().next().unwrap();
        assert_eq!(operation["tags"][0], service, "{path}");
        assert!(
            operation["responses"]["504"].is_object(),
            "{path}: {operation}"
        );
    }
    // The calls between services are not in the public document; the bearer scheme is.
    assert!(combined["paths"]["/notifications/seller-alerts"].is_null());
    assert!(combined["paths"]["/payments"]["post"].is_null());
    assert_eq!(
        combined["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(combined["paths"]["/products"]["get"]["security"] == json!([{}]));
    assert!(combined["paths"]["/orders"]["post"]["security"][0]["bearer"].is_array());
    let ids: Vec<&str> = operation_ids(&combined);
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "operation ids repeat: {ids:?}");
    schemathesis(
        "gateway",
        &format!("{g}/openapi.json"),
        &token(&g, "customer", 1).await,
    )
    .await;

    let page = reqwest::get(format!("{g}/docs/")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger"));

    // One service down: the combined document still answers, without it, and says so.
    stack.stop_service("marketing").await;
    let partial = get(&http, format!("{g}/openapi.json")).await;
    assert!(partial["paths"]["/notifications"].is_null());
    assert!(partial["paths"]["/orders"].is_object());
    let description = partial["info"]["description"].as_str().unwrap();
    assert!(
        description.contains("unreachable just now: marketing"),
        "{description}"
    );

    stop_stack(stack).await;
}

fn operation_ids(doc: &Value) -> Vec<&str> {
    doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect()
}

/// Runs schemathesis against `document`; fails the test with its report on any failure.
async fn schemathesis(name: &str, document: &str, bearer: &str) {
    let examples = std::env::var("MEALKIT_FUZZ_EXAMPLES").unwrap_or_else(|_| "50".into());
    let seed = std::env::var("MEALKIT_FUZZ_SEED").unwrap_or_else(|_| "20261124".into());
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemathesis.toml");
    let run = tokio::process::Command::new("st")
        .arg("--config-file")
        .arg(&config)
        // Every check is on by default; schemathesis.toml turns off the ones our documented
        // behaviour contradicts, globally or per operation. (`--checks` on the command line would
        // override the file, per operation too.)
        .args(["run", document, "--no-color"])
        .args(["--max-examples", &examples, "--seed", &seed])
        .args(["--request-timeout", "10"])
        .args(["--header", &format!("Authorization: Bearer {bearer}")])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(SCHEMATHESIS_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("schemathesis on {name} took over {SCHEMATHESIS_TIMEOUT:?}"))
        .unwrap_or_else(|e| {
            panic!("running schemathesis (`st`) failed: {e}; `./dev test` installs it")
        });
    let report = String::from_utf8_lossy(&output.stdout);
    let summary = report
        .lines()
        .filter(|line| line.contains(" generated, ") || line.starts_with("====="))
        .collect::<Vec<_>>()
        .join(" | ");
    println!("schemathesis {name} (seed {seed}, {examples} examples): {summary}");
    assert!(
        output.status.success(),
        "schemathesis found failures in {name}'s API:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
