//! Shared by the end-to-end tests: a whole stack per test, started by the launcher.

#![allow(dead_code)]

pub mod browser;
pub mod bus;
pub mod load;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use stack::{Options, Stack};
use testkit::{Http, eventually};

/// Generous: two stacks may run side by side on a loaded CI machine; a passing test never waits
/// it out.
pub const WAIT: Duration = Duration::from_secs(30);

/// Where cargo put the service binaries: next to this test's `deps/` folder.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .to_path_buf()
}

/// How many of each a stack runs.
#[derive(Clone, Copy)]
pub struct Shape {
    /// Replicas of every service.
    pub replicas: usize,
    /// Kafka nodes: 1, or 3 for a cluster.
    pub brokers: usize,
}

/// How many Kafka nodes the tests' stacks run: `MEALKIT_TEST_BROKERS` (1 or 3; default 1).
/// `MEALKIT_TEST_BROKERS=3 ./dev test -p e2e` runs every end-to-end suite on a cluster of three.
pub fn test_brokers() -> usize {
    std::env::var("MEALKIT_TEST_BROKERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// Starts the whole system (its own Postgres and Kafka, free ports) with `env` for every
/// service, the gateway's rate limits lifted ([`stack::UNTHROTTLED`]).
pub async fn start_stack(env: &[(&str, &str)]) -> Stack {
    start_stack_with(
        env,
        Shape {
            replicas: 1,
            brokers: test_brokers(),
        },
    )
    .await
}

/// [`start_stack`] with several replicas of every service, or several Kafka nodes.
pub async fn start_stack_with(env: &[(&str, &str)], shape: Shape) -> Stack {
    let dir = std::env::temp_dir().join(format!("mealkit-e2e-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    // The cluster runs as the postgres user when the tests run as root: let it in.
    let _ = std::process::Command::new("chmod")
        .arg("755")
        .arg(&dir)
        .status();
    let mut options = Options::isolated(dir, bin_dir()).expect("free ports");
    set_shape(&mut options, shape);
    // Tests are one address and a few identities at full speed; the limits have their own
    // tests. Later entries win, so a test may set the limits again.
    options.env = stack::UNTHROTTLED
        .iter()
        .chain(env)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut attempt = 1;
    loop {
        match Stack::start(options.clone()).await {
            Ok(stack) => return stack,
            // Free ports were picked at random; another stack starting at the same moment can
            // take one. Anything else is a real failure.
            Err(e) if attempt < 4 && is_port_clash(&e.to_string()) => {
                eprintln!("port clash ({e}); starting again on other ports");
                let fresh = Options::isolated(options.data_dir.clone(), options.bin_dir.clone())
                    .expect("free ports");
                options = Options {
                    env: options.env.clone(),
                    ..fresh
                };
                set_shape(&mut options, shape);
                attempt += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn set_shape(options: &mut Options, shape: Shape) {
    for (service, _) in stack::SERVICES {
        options.set_replicas(service, shape.replicas).unwrap();
    }
    options.set_brokers(shape.brokers).unwrap();
}

/// The value of the sample `name` (with its labels, as written: `m{l="v"}`) on the `/metrics`
/// of the process at `base_url`.
pub async fn metric(base_url: &str, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("{base_url}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
}

fn is_port_clash(error: &str) -> bool {
    [
        "already in use",
        "Address in use",
        "could not create any TCP/IP sockets",
        "could not bind",
    ]
    .iter()
    .any(|needle| error.contains(needle))
}

pub async fn stop_stack(mut stack: Stack) {
    stack.stop().await;
    let _ = std::fs::remove_dir_all(&stack.options.data_dir);
}

/// Signs in through the gateway's dev issuer (`POST /auth/dev/token`, the README's way): a
/// client that sends the token with every request.
pub async fn sign_in(g: &str, role: &str, id: i64) -> Http {
    Http::bearer(&token(g, role, id).await)
}

/// A token of the service role, granted as the order service gets its own (client
/// credentials at the dev issuer).
pub async fn service_token(stack: &Stack) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/auth/dev/oauth2/token", stack.gateway_url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "order"),
            ("client_secret", stack.service_client_secret()),
        ])
        .send()
        .await
        .expect("the token endpoint answers")
        .json()
        .await
        .expect("a JSON token answer");
    answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no service token: {answer}"))
        .to_owned()
}

/// The token inside a client made by [`sign_in`]: signs in again and returns the raw token.
pub async fn token(g: &str, role: &str, id: i64) -> String {
    let (status, body) = Http::default()
        .post(
            &format!("{g}/auth/dev/token"),
            json!({"role": role, "id": id}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["accessToken"].as_str().unwrap().to_owned()
}

pub async fn get(http: &Http, url: String) -> Value {
    let (status, body) = http.get(&url).await;
    assert_eq!(status, 200, "GET {url}: {body}");
    body
}

/// Registers a kit as seller `seller_id`; returns its id.
pub async fn register_kit(g: &str, seller_id: i64, stock: i64) -> i64 {
    let http = sign_in(g, "seller", seller_id).await;
    let (status, product) = http
        .post(
            &format!("{g}/products"),
            json!({"sellerId": seller_id, "name": "Bulgogi kit", "price": 10000, "stock": stock}),
        )
        .await;
    assert_eq!(status, 201, "{product}");
    product["id"].as_i64().unwrap()
}

/// Places an order, retrying while order's replica has not heard of the product yet (that
/// answer, `422 unknown_product`, stores nothing). Returns status and body of the first answer
/// that is not that.
pub async fn place_order(http: &Http, g: &str, body: Value) -> (u16, Value) {
    eventually(WAIT, || async {
        let answer = http.post(&format!("{g}/orders"), body.clone()).await;
        (answer.1["error"] != "unknown_product").then_some(answer)
    })
    .await
    .expect("order's replica learned the product")
}

/// Places an order for one `kit` to `address` as `http`'s customer; returns its id (the test
/// fails on anything but `201`).
pub async fn order_one(http: &Http, g: &str, kit: i64, address: &str) -> i64 {
    let body = serde_json::json!({"productId": kit, "qty": 1, "address": address});
    let (status, order) = place_order(http, g, body).await;
    assert_eq!(status, 201, "{order}");
    order["id"].as_i64().unwrap()
}

/// A customer orders a fresh kit and its saga runs as far as its delivery being requested:
/// the stack takes orders and every step of the saga consumes. `when` names the moment in
/// the failure message.
pub async fn an_order_goes_through(g: &str, when: &str) {
    let product = register_kit(g, 1, 10).await;
    let http = sign_in(g, "customer", 1).await;
    let (status, order) = place_order(
        &http,
        g,
        serde_json::json!({"productId": product, "qty": 1}),
    )
    .await;
    assert_eq!(status, 201, "{when}: {order}");
    let url = format!("{g}/orders/{}", order["id"]);
    wait_field(&http, url, "status", "DELIVERY_REQUESTED").await;
}

/// Waits until `url` answers a JSON whose `field` is `value`.
pub async fn wait_field(http: &Http, url: String, field: &str, value: &str) -> Value {
    let found = eventually(WAIT, || async {
        let (status, body) = http.get(&url).await;
        (status == 200 && body[field] == value).then_some(body)
    })
    .await;
    match found {
        Some(body) => body,
        None => panic!(
            "{url} never had {field} = {value}; last: {}",
            http.get(&url).await.1
        ),
    }
}

/// A token for `role` `id` signed by a key that is not the gateway's issuer's.
pub fn forged(g: &str, role: platform::Role, id: i64) -> String {
    use platform::auth::AuthSettings;
    use platform::auth::dev::{DevIssuer, DevIssuerSettings};
    let settings = DevIssuerSettings {
        enabled: true,
        redirect_uris: Vec::new(),
        key_file: Default::default(),
        token_ttl: Duration::from_secs(600),
        clients: Default::default(),
    };
    DevIssuer::ephemeral(&settings, &AuthSettings::for_dev_issuer(g))
        .unwrap()
        .token(role, id)
}
