//! The bench as a shop's client: signing in, registering the kit it orders, and what verifying
//! a token costs.

use std::time::Duration;

/// Microseconds of one token verification with the services' verifier, its keys fetched once
/// from the stack's issuer and cached (as in every service): a token seen for the first time
/// (every check), and one seen before (answered from the verified-token cache).
pub async fn verification_cost(g: &str, token: &str) -> anyhow::Result<(f64, f64)> {
    let verifier = platform::auth::Verifier::new(platform::auth::AuthSettings::for_dev_issuer(g))?;
    verifier.verify(token).await?;
    const ROUNDS: u32 = 20_000;
    let started = std::time::Instant::now();
    for _ in 0..ROUNDS {
        verifier.verify_anew(token).await?;
    }
    let anew = started.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
    let started = std::time::Instant::now();
    for _ in 0..ROUNDS {
        verifier.verify(token).await?;
    }
    let again = started.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
    Ok((anew, again))
}

/// What one request's rate-limit checks cost the gateway (its address's and its caller's),
/// in nanoseconds, with the gateway's own limiters, over a few thousand clients.
pub fn rate_limit_cost(g: &str) -> anyhow::Result<f64> {
    use gateway::limits::{LimitSettings, Limits, Rate};
    let unlimited = Rate {
        per_sec: u32::MAX.try_into()?,
        burst: u32::MAX.try_into()?,
    };
    let settings = LimitSettings {
        per_address: unlimited,
        per_caller: unlimited,
        max_concurrent: 1,
        max_open_streams: 1,
    };
    let verifier = platform::auth::Verifier::new(platform::auth::AuthSettings::for_dev_issuer(g))?;
    let limits = Limits::new(&settings, verifier);
    const ROUNDS: u32 = 200_000;
    let started = std::time::Instant::now();
    for n in 0..ROUNDS {
        let client = n % 4096;
        limits
            .admit_address(std::net::IpAddr::from((client + 1).to_be_bytes()))
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        let caller = platform::Caller {
            role: platform::Role::Customer,
            id: i64::from(client),
            subject: String::new(),
        };
        limits
            .admit_caller(&caller)
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    }
    Ok(started.elapsed().as_secs_f64() * 1e9 / f64::from(ROUNDS))
}

/// A token from the stack's dev issuer (`POST /auth/dev/token`).
pub async fn dev_token(g: &str, role: &str, id: i64) -> anyhow::Result<String> {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{g}/auth/dev/token"))
        .json(&serde_json::json!({"role": role, "id": id}))
        .send()
        .await?
        .json()
        .await?;
    answer["accessToken"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no token from the dev issuer: {answer}"))
}

/// Registers a kit with plenty of stock; returns once order's replica knows it.
pub async fn register(g: &str) -> anyhow::Result<i64> {
    let seller = dev_token(g, "seller", 1).await?;
    let customer = dev_token(g, "customer", 1).await?;
    let http = reqwest::Client::new();
    let product: serde_json::Value = http
        .post(format!("{g}/products"))
        .bearer_auth(&seller)
        .json(&serde_json::json!({"sellerId": 1, "name": "Bench kit", "price": 1000, "stock": 1_000_000}))
        .send()
        .await?
        .json()
        .await?;
    let id = product["id"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("registering: {product}"))?;
    for _ in 0..200 {
        let answer: serde_json::Value = http
            .post(format!("{g}/orders"))
            .bearer_auth(&customer)
            .json(&serde_json::json!({"productId": id, "qty": 1}))
            .send()
            .await?
            .json()
            .await?;
        if answer["error"] != "unknown_product" {
            return Ok(id);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("order never learned product {id}")
}

/// What one event's JSON costs, in microseconds of one core: encoding it (once, into the outbox)
/// and decoding it (once per consuming group), an `OrderPlaced` as the relays send it.
#[derive(serde::Serialize, Default)]
pub struct EventJson {
    pub encode_us: f64,
    pub decode_us: f64,
}

pub fn event_json_cost() -> anyhow::Result<EventJson> {
    use contracts::{Envelope, Event, OrderPlaced};
    let envelope = Envelope::new(
        "order",
        Event::OrderPlaced(OrderPlaced {
            order_id: 1_000_001,
            customer_id: 1,
            seller_id: 2,
            product_id: 3,
            product_name: "Bulgogi kit for two".into(),
            qty: 1,
            amount: 15_800,
            address: "Seoul".into(),
        }),
    );
    const ROUNDS: u32 = 50_000;
    let started = std::time::Instant::now();
    let mut body = String::new();
    for _ in 0..ROUNDS {
        body = std::hint::black_box(&envelope).to_json();
    }
    let encode_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
    let started = std::time::Instant::now();
    for _ in 0..ROUNDS {
        std::hint::black_box(Envelope::from_json(body.as_bytes())?);
    }
    let decode_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
    Ok(EventJson {
        encode_us,
        decode_us,
    })
}
