//! Reading a Prometheus text exposition: a process's `/metrics`, or this process's own
//! (`platform::metrics::render()`).

use std::collections::BTreeMap;

/// The series of `family`, summed by the value of their `label` (series without it are left
/// out): `kafka_requests_total` by `request` gives `{"Fetch": …, "Produce": …}` over every
/// client.
pub fn sum_by_label(metrics: &str, family: &str, label: &str) -> BTreeMap<String, f64> {
    let mut totals = BTreeMap::new();
    for line in metrics.lines() {
        let Some((value, count)) = sample(line, family, label) else {
            continue;
        };
        *totals.entry(value.to_owned()).or_default() += count;
    }
    totals
}

/// `family{…,label="value",…} count` as (value, count).
fn sample<'a>(line: &'a str, family: &str, label: &str) -> Option<(&'a str, f64)> {
    let labels = line.strip_prefix(family)?.strip_prefix('{')?;
    let (labels, count) = labels.split_once("} ")?;
    let value = labels.split(',').find_map(|pair| {
        pair.strip_prefix(label)?
            .strip_prefix("=\"")?
            .strip_suffix('"')
    })?;
    Some((value, count.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_summed_by_the_label_over_other_labels_and_other_families_left_out() {
        let text = "# TYPE kafka_requests_total counter\n\
            kafka_requests_total{client=\"rdkafka#consumer-2\",request=\"Fetch\"} 120\n\
            kafka_requests_total{client=\"rdkafka#consumer-3\",request=\"Fetch\"} 30\n\
            kafka_requests_total{client=\"rdkafka#producer-1\",request=\"Produce\"} 7\n\
            kafka_requests_total_other{request=\"Fetch\"} 1000\n\
            kafka_requests_total{client=\"x\",requests=\"Fetch\"} 1000\n\
            http_requests_total{route=\"/orders\",request=\"Fetch\"} 3\n";
        assert_eq!(
            sum_by_label(text, "kafka_requests_total", "request"),
            BTreeMap::from([("Fetch".to_owned(), 150.0), ("Produce".to_owned(), 7.0)])
        );
    }
}
