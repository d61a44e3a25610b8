//! Broker requests and messages per order: what the consumers' fetching, the relays' producing
//! and the groups' bookkeeping ask of the broker for one order and its saga, and how many events
//! are encoded and decoded for it. Read from the services' own `kafka_requests_total` and
//! `kafka_messages_total` (librdkafka's counts, see `platform::kafka::RequestCounts`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use stack::Stack;
use testkit::metrics::sum_by_label;

/// librdkafka reports its counts every 5 s: waiting a little longer makes a snapshot whole.
const REPORT_LAG: Duration = Duration::from_secs(6);

/// What every replica of every service has sent and received since it started: requests by
/// kind, and messages by direction.
#[derive(Default)]
pub struct Snapshot {
    requests: BTreeMap<String, f64>,
    messages: BTreeMap<String, f64>,
}

/// One load's traffic per order.
#[derive(Serialize, Default)]
pub struct KafkaTraffic {
    pub orders: usize,
    pub requests_per_order: f64,
    /// Requests per order by kind, most frequent first.
    pub requests_by_kind: Vec<(String, f64)>,
    /// Events the relays produced per order.
    pub messages_sent_per_order: f64,
    /// Events the consumers received per order (one per consuming group and event).
    pub messages_received_per_order: f64,
}

pub async fn snapshot(stack: &Stack) -> anyhow::Result<Snapshot> {
    tokio::time::sleep(REPORT_LAG).await;
    let http = reqwest::Client::new();
    let mut snapshot = Snapshot::default();
    for (service, _) in stack::SERVICES {
        for url in stack.replica_urls(service) {
            let text = http
                .get(format!("{url}/metrics"))
                .send()
                .await?
                .error_for_status()?
                .text()
                .await?;
            add(
                &mut snapshot.requests,
                sum_by_label(&text, "kafka_requests_total", "request"),
            );
            add(
                &mut snapshot.messages,
                sum_by_label(&text, "kafka_messages_total", "direction"),
            );
        }
    }
    Ok(snapshot)
}

fn add(totals: &mut BTreeMap<String, f64>, counts: BTreeMap<String, f64>) {
    for (key, count) in counts {
        *totals.entry(key).or_default() += count;
    }
}

/// What was sent and received between `before` and `after`, divided by `orders`.
pub fn per_order(before: &Snapshot, after: &Snapshot, orders: usize) -> KafkaTraffic {
    let divisor = orders.max(1) as f64;
    let delta = |before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, key: &str| {
        (after.get(key).copied().unwrap_or_default() - before.get(key).copied().unwrap_or_default())
            / divisor
    };
    let mut requests_by_kind: Vec<(String, f64)> = after
        .requests
        .keys()
        .map(|kind| (kind.clone(), delta(&before.requests, &after.requests, kind)))
        .filter(|(_, per_order)| *per_order > 0.0)
        .collect();
    requests_by_kind.sort_by(|a, b| b.1.total_cmp(&a.1));
    KafkaTraffic {
        orders,
        requests_per_order: requests_by_kind.iter().map(|(_, n)| n).sum(),
        requests_by_kind,
        messages_sent_per_order: delta(&before.messages, &after.messages, "sent"),
        messages_received_per_order: delta(&before.messages, &after.messages, "received"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_messages_are_read_from_the_metrics_text_and_divided_by_orders() {
        let text = "# TYPE kafka_requests_total counter\n\
            kafka_requests_total{client=\"rdkafka#consumer-2\",request=\"Fetch\"} 120\n\
            kafka_requests_total{client=\"rdkafka#producer-1\",request=\"Produce\"} 7\n\
            kafka_messages_total{client=\"rdkafka#producer-1\",direction=\"sent\"} 50\n\
            kafka_messages_total{client=\"rdkafka#consumer-2\",direction=\"received\"} 90\n\
            kafka_messages_total{client=\"rdkafka#consumer-3\",direction=\"received\"} 40\n\
            http_requests_total{route=\"/orders\",request=\"x\"} 3\n";
        let mut after = Snapshot::default();
        add(
            &mut after.requests,
            sum_by_label(text, "kafka_requests_total", "request"),
        );
        add(
            &mut after.messages,
            sum_by_label(text, "kafka_messages_total", "direction"),
        );
        let before = Snapshot {
            requests: BTreeMap::from([("Fetch".to_owned(), 20.0)]),
            messages: BTreeMap::from([("received".to_owned(), 30.0)]),
        };
        let traffic = per_order(&before, &after, 10);
        assert_eq!(
            traffic.requests_by_kind,
            vec![("Fetch".to_owned(), 10.0), ("Produce".to_owned(), 0.7)]
        );
        assert!((traffic.requests_per_order - 10.7).abs() < 1e-9);
        assert!((traffic.messages_sent_per_order - 5.0).abs() < 1e-9);
        assert!((traffic.messages_received_per_order - 10.0).abs() < 1e-9);
    }
}
