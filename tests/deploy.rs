//! The deployment files agree with the code: every overlay renders and validates against the
//! Kubernetes schemas of a pinned version (offline), and what matters is asserted on the
//! rendered manifests and on docker-compose.yml. The source of truth for setting names is the
//! code itself: each service's settings function is run and the variables it reads recorded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

const KUBERNETES_VERSION: &str = "1.32.0";
const OVERLAYS: [&str; 3] = ["kind", "aks", "aks-istio"];
/// ConfigMaps mounted as files (Postgres' roles script, Prometheus' and Grafana's
/// configuration), not read as settings.
const OBSERVABILITY_FILES: [&str; 4] = [
    "postgres-roles",
    "prometheus-config",
    "grafana-provisioning",
    "grafana-dashboards",
];
/// The six services and the gateway, as the launcher knows them.
fn apps() -> Vec<&'static str> {
    stack::SERVICES
        .iter()
        .map(|(name, _)| *name)
        .chain([stack::GATEWAY.0])
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The environment variables each binary reads.
fn reads() -> BTreeMap<&'static str, BTreeSet<String>> {
    use platform::settings::recording;
    let (_, logging) = recording(platform::telemetry::read_variables);
    let mut reads = BTreeMap::from([
        ("product", recording(product::settings).1),
        ("payment", recording(payment::settings).1),
        ("delivery", recording(delivery::settings).1),
        ("marketing", recording(marketing::settings).1),
        ("sellerpage", recording(sellerpage::settings).1),
        ("order", recording(order::Settings::from_env).1),
        ("gateway", recording(gateway::Settings::from_env).1),
    ]);
    for names in reads.values_mut() {
        names.extend(logging.iter().cloned());
    }
    assert!(
        reads["order"].contains("PAYMENT_BREAKER_FAILURES"),
        "{:?}",
        reads["order"]
    );
    reads
}

fn yaml_documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| {
            let mut value =
                <serde_norway::Value as serde::Deserialize>::deserialize(doc).expect("YAML");
            value.apply_merge().expect("YAML merge keys");
            serde_json::to_value(value).expect("YAML as JSON")
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn render(overlay: &str) -> String {
    let out = Command::new("kubectl")
        .args([
            "kustomize",
            &root().join("k8s/overlays").join(overlay).to_string_lossy(),
        ])
        .output()
        .expect("kubectl is installed (./dev test installs it)");
    assert!(
        out.status.success(),
        "kustomize {overlay}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn by_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn named<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn every_overlay_validates_against_the_kubernetes_schemas() {
    for overlay in OVERLAYS {
        let file =
            std::env::temp_dir().join(format!("mealkit-{overlay}-{}.yaml", std::process::id()));
        std::fs::write(&file, render(overlay)).unwrap();
        let out = Command::new("kubernetes-validate")
            .args(["-k", KUBERNETES_VERSION, "--strict", "--quiet"])
            .arg(&file)
            .output()
            .expect("kubernetes-validate is installed (./dev test installs it)");
        let report = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        let _ = std::fs::remove_file(&file);
        assert!(
            out.status.success(),
            "{overlay} does not validate:\n{report}"
        );
        // Only the Istio CRDs, which Kubernetes' own schemas do not describe, may go unchecked.
        for line in report
            .lines()
            .filter(|l| l.contains("Couldn't find schema"))
        {
            assert!(line.contains("networking.istio.io"), "{overlay}: {line}");
        }
    }
}

#[test]
fn the_manifests_agree_with_what_the_services_serve_and_read() {
    let reads = reads();
    for overlay in OVERLAYS {
        let docs = yaml_documents(&render(overlay));
        // Settings ConfigMaps; Postgres' roles script is mounted as files, not read as settings.
        let config_maps: BTreeMap<&str, BTreeSet<String>> = by_kind(&docs, "ConfigMap")
            .into_iter()
            .filter(|cm| {
                let name = cm["metadata"]["name"].as_str().unwrap();
                !OBSERVABILITY_FILES
                    .iter()
                    .any(|files| name.starts_with(files))
            })
            .map(|cm| {
                let keys = cm["data"].as_object().unwrap().keys().cloned().collect();
                (cm["metadata"]["name"].as_str().unwrap(), keys)
            })
            .collect();
        let mut config_map_readers: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();

        let deployments: Vec<&Value> = by_kind(&docs, "Deployment")
            .into_iter()
            .filter(|d| d["metadata"]["labels"]["app.kubernetes.io/component"] != "observability")
            .collect();
        let names: BTreeSet<&str> = deployments
            .iter()
            .map(|d| d["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            apps().into_iter().collect(),
            "{overlay}: one Deployment per service"
        );
        for deployment in deployments {
            let name = deployment["metadata"]["name"].as_str().unwrap();
            let pod = &deployment["spec"]["template"]["spec"];
            assert_eq!(
                pod["securityContext"]["runAsNonRoot"], true,
                "{overlay}/{name}"
            );
            let container = &pod["containers"][0];
            assert_eq!(
                strings(&container["command"]),
                [format!("/app/{name}").as_str()],
                "{overlay}/{name}"
            );
            let port = &container["ports"][0];
            assert_eq!(port["containerPort"], 8080, "{overlay}/{name}");
            for (probe, path) in [
                ("readinessProbe", "/health/ready"),
                ("livenessProbe", "/health/live"),
            ] {
                let get = &container[probe]["httpGet"];
                assert_eq!(get["path"], path, "{overlay}/{name} {probe}");
                assert_eq!(get["port"], port["name"], "{overlay}/{name} {probe} port");
            }
            for kind in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        container["resources"][kind][resource].is_string(),
                        "{overlay}/{name} {kind}.{resource}"
                    );
                }
            }
            let security = &container["securityContext"];
            assert_eq!(
                security["allowPrivilegeEscalation"], false,
                "{overlay}/{name}"
            );
            assert_eq!(security["readOnlyRootFilesystem"], true, "{overlay}/{name}");
            assert!(
                strings(&security["capabilities"]["drop"]).contains(&"ALL"),
                "{overlay}/{name}"
            );

            let mut env: BTreeSet<String> = container["env"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].as_str().unwrap().to_owned())
                .collect();
            let port_env = container["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == "PORT");
            assert_eq!(
                port_env.map(|e| &e["value"]),
                Some(&Value::from("8080")),
                "{overlay}/{name} PORT"
            );
            for source in container["envFrom"].as_array().into_iter().flatten() {
                let cm = source["configMapRef"]["name"]
                    .as_str()
                    .expect("envFrom a ConfigMap");
                let keys = config_maps
                    .get(cm)
                    .unwrap_or_else(|| panic!("{overlay}/{name}: no ConfigMap {cm}"));
                env.extend(keys.iter().cloned());
                config_map_readers
                    .entry(cm)
                    .or_default()
                    .extend(reads[name].iter().cloned());
            }
            for secret_ref in container["env"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["valueFrom"]["secretKeyRef"].as_object())
            {
                let secret_name = secret_ref["name"].as_str().unwrap();
                // On AKS, order's client secret and the database credentials are created by
                // the operator (README), never committed; every other Secret a container reads
                // ships with the overlay.
                if overlay.starts_with("aks")
                    && ["order-credential", "mealkit-db"].contains(&secret_name)
                {
                    continue;
                }
                let secret = named(&docs, "Secret", secret_name);
                assert!(
                    secret["stringData"][secret_ref["key"].as_str().unwrap()].is_string()
                        || secret["data"][secret_ref["key"].as_str().unwrap()].is_string()
                );
            }
            let unread: Vec<_> = env.difference(&reads[name]).collect();
            assert!(
                unread.is_empty(),
                "{overlay}/{name} sets variables it never reads: {unread:?}"
            );

            let service = named(&docs, "Service", name);
            assert_eq!(
                service["spec"]["ports"][0]["targetPort"], port["name"],
                "{overlay}/{name} Service"
            );
            named(&docs, "PodDisruptionBudget", name);
        }
        for (cm, keys) in &config_maps {
            let readers = config_map_readers.get(cm).cloned().unwrap_or_default();
            let unread: Vec<_> = keys.difference(&readers).collect();
            assert!(
                unread.is_empty(),
                "{overlay}: ConfigMap {cm} keys no service reads: {unread:?}"
            );
        }
        for hpa in by_kind(&docs, "HorizontalPodAutoscaler") {
            let target = &hpa["spec"]["scaleTargetRef"];
            assert_eq!(target["kind"], "Deployment");
            named(&docs, "Deployment", target["name"].as_str().unwrap());
        }
        assert_eq!(
            by_kind(&docs, "HorizontalPodAutoscaler").len(),
            apps().len(),
            "{overlay}: an HPA per stateless service"
        );
        let order_hpa = named(&docs, "HorizontalPodAutoscaler", "order");
        assert_eq!(order_hpa["spec"]["minReplicas"], 1);
        assert_eq!(order_hpa["spec"]["maxReplicas"], 10);
        assert_eq!(
            order_hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            20
        );

        // Only the gateway is open to everyone; payment and marketing also to order.
        named(&docs, "NetworkPolicy", "default-deny-ingress");
        for (service, callers) in [
            ("payment", vec!["gateway", "order"]),
            ("marketing", vec!["gateway", "order"]),
            ("product", vec!["gateway"]),
        ] {
            let policy = named(&docs, "NetworkPolicy", &format!("{service}-ingress"));
            let allowed: Vec<&str> = policy["spec"]["ingress"][0]["from"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p["podSelector"]["matchLabels"]["app.kubernetes.io/name"].as_str())
                .collect();
            assert_eq!(allowed, callers, "{overlay}: who may call {service}");
        }
        named(&docs, "StatefulSet", "postgres");
        named(&docs, "StatefulSet", "kafka");
        let job = named(&docs, "Job", "create-topics");
        let script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
            .as_str()
            .unwrap();
        for topic in contracts::TopicNames::default().all() {
            assert!(
                script.contains(&topic),
                "{overlay}: the topics job creates {topic}"
            );
        }

        let gateway_type = &named(&docs, "Service", "gateway")["spec"]["type"];
        match overlay {
            "kind" => assert_eq!(gateway_type, "NodePort"),
            _ => assert_eq!(gateway_type, "LoadBalancer"),
        }
        if overlay == "aks-istio" {
            for host in ["marketing", "payment"] {
                let rule = named(&docs, "DestinationRule", host);
                assert!(rule["spec"]["trafficPolicy"]["outlierDetection"].is_object());
                assert!(
                    named(&docs, "VirtualService", host)["spec"]["http"][0]["timeout"].is_string()
                );
            }
            assert_eq!(
                named(&docs, "Namespace", "mealkit")["metadata"]["labels"]["istio-injection"],
                "enabled"
            );
        }
    }
}

#[test]
fn docker_compose_runs_the_same_system() {
    let reads = reads();
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    let compose = yaml_documents(&text).remove(0);
    let services = compose["services"].as_object().unwrap();
    for infra in ["postgres", "kafka", "topics"] {
        assert!(services.contains_key(infra), "compose has {infra}");
    }
    let topics_script = services["topics"]["command"][0].as_str().unwrap();
    for topic in contracts::TopicNames::default().all() {
        assert!(topics_script.contains(&topic), "compose creates {topic}");
    }
    for name in apps() {
        let service = &services[name];
        assert_eq!(
            strings(&service["command"]),
            [format!("/app/{name}").as_str()],
            "{name}"
        );
        let env: BTreeSet<String> = service["environment"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let unread: Vec<_> = env.difference(&reads[name]).collect();
        assert!(
            unread.is_empty(),
            "compose {name} sets variables it never reads: {unread:?}"
        );
        assert_eq!(service["environment"]["PORT"], "8080", "{name}");
        assert!(
            strings(&service["healthcheck"]["test"]).contains(&"/health/ready"),
            "{name} healthcheck"
        );
        assert!(
            service["depends_on"]
                .as_object()
                .unwrap()
                .values()
                .all(|d| d["condition"].is_string()),
            "{name} depends_on conditions"
        );
        if name != "gateway" {
            assert!(service["environment"]["DATABASE_URL"].is_string(), "{name}");
            assert_eq!(
                service["environment"]["KAFKA_BROKERS"], "kafka:9092",
                "{name}"
            );
        }
    }
    assert_eq!(strings(&services["gateway"]["ports"]), ["8080:8080"]);
    assert_eq!(
        services["topics"]["depends_on"]["kafka"]["condition"],
        "service_healthy"
    );
}

/// Compose and every overlay run the Kafka the local stack and the tests run: the version
/// pinned in `crates/stack/kafka/pom.xml`.
#[test]
fn kafka_is_the_version_the_local_stack_runs() {
    let wanted = format!("apache/kafka:{}", stack::kafka::version());
    let compose = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    let mut images: Vec<(String, String)> = compose
        .lines()
        .filter_map(|l| l.trim().strip_prefix("image: "))
        .map(|image| ("docker-compose.yml".to_owned(), image.to_owned()))
        .collect();
    for overlay in OVERLAYS {
        let docs = yaml_documents(&render(overlay));
        for doc in &docs {
            let spec = &doc["spec"]["template"]["spec"];
            for container in spec["containers"].as_array().into_iter().flatten() {
                let image = container["image"].as_str().unwrap_or_default().to_owned();
                images.push((overlay.to_owned(), image));
            }
        }
    }
    let kafkas: Vec<&(String, String)> = images
        .iter()
        .filter(|(_, image)| image.starts_with("apache/kafka"))
        .collect();
    assert!(kafkas.len() >= 2 + 2 * OVERLAYS.len(), "{images:?}");
    for (file, image) in kafkas {
        assert_eq!(image, &wanted, "{file}");
    }
}

/// The dev issuer hands any token to anyone: only the kind overlay turns it on, never AKS.
#[test]
fn only_kind_runs_the_dev_issuer() {
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let on = rendered.contains("AUTH_DEV_ISSUER");
        assert_eq!(
            on,
            overlay == "kind",
            "{overlay}: AUTH_DEV_ISSUER set = {on}"
        );
        if overlay.starts_with("aks") {
            assert!(
                rendered.contains("login.microsoftonline.com") && !rendered.contains("auth/dev"),
                "{overlay} trusts the Entra ID issuer only"
            );
        }
    }
}

/// Least privilege: every service connects as its own role (`mealkit_<service>`), made by the one
/// roles script for the schemas the launcher knows, in Compose and Kubernetes alike; AKS commits
/// no database password at all.
#[test]
fn each_service_connects_as_its_own_role() {
    let script = std::fs::read_to_string(root().join("k8s/base/postgres-roles.sh")).unwrap();
    for (service, schema) in stack::roles::SCHEMAS {
        assert!(
            script.contains(&format!("{service}:{schema}")),
            "{service}:{schema}"
        );
    }
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    let compose = yaml_documents(&text).remove(0);
    let kind = yaml_documents(&render("kind"));
    let secret = named(&kind, "Secret", "mealkit-db");
    for (service, _) in stack::roles::SCHEMAS {
        let role = stack::roles::role_of(service);
        let url = compose["services"][service]["environment"]["DATABASE_URL"]
            .as_str()
            .unwrap();
        assert!(
            url.starts_with(&format!("postgres://{role}:")),
            "compose {service}: {url}"
        );
        let key = format!("{}_DATABASE_URL", service.to_uppercase());
        let deployment = named(&kind, "Deployment", service);
        let env = &deployment["spec"]["template"]["spec"]["containers"][0]["env"];
        let database = env
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "DATABASE_URL")
            .unwrap_or_else(|| panic!("{service} has no DATABASE_URL"));
        assert_eq!(database["valueFrom"]["secretKeyRef"]["key"], key.as_str());
        let url = secret["data"][&key]
            .as_str()
            .map_or_else(String::new, |encoded| {
                use base64::Engine;
                // kubectl wraps long values.
                let encoded: String = encoded.split_whitespace().collect();
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .unwrap();
                String::from_utf8(decoded).unwrap()
            });
        assert!(
            url.starts_with(&format!("postgres://{role}:")),
            "kind {service}: {url}"
        );
    }
    for overlay in OVERLAYS.iter().filter(|o| o.starts_with("aks")) {
        let rendered = render(overlay);
        let docs = yaml_documents(&rendered);
        assert!(
            by_kind(&docs, "Secret")
                .iter()
                .all(|s| s["metadata"]["name"] != "mealkit-db"),
            "{overlay} commits the database Secret"
        );
        for demo in ["change-me", "demo-only"] {
            assert!(
                !rendered.contains(demo),
                "{overlay} carries a demo value: {demo}"
            );
        }
    }
}

/// The metric names the code records (`counter!`, `gauge!`, `histogram!`), read from the
/// sources: what the services export. A histogram of seconds is exported with buckets.
fn exported_metrics() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut stack: Vec<PathBuf> = ["crates", "services", "gateway"]
        .iter()
        .map(|d| root().join(d))
        .collect();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for kind in ["counter!(", "gauge!(", "histogram!("] {
            for (at, _) in text.match_indices(kind) {
                let rest = text[at + kind.len()..].trim_start();
                if let Some(name) = rest.strip_prefix('"').and_then(|r| r.split('"').next()) {
                    names.insert(name.to_owned());
                    if kind == "histogram!(" {
                        for suffix in ["_bucket", "_sum", "_count"] {
                            names.insert(format!("{name}{suffix}"));
                        }
                    }
                }
            }
        }
    }
    names
}

/// The metric names a PromQL expression selects: label matchers, ranges, grouping clauses and
/// strings removed, what is left that is not a function is a metric.
fn metrics_in(expr: &str) -> BTreeSet<String> {
    const FUNCTIONS: [&str; 9] = [
        "sum",
        "rate",
        "irate",
        "increase",
        "histogram_quantile",
        "max",
        "min",
        "avg",
        "count",
    ];
    let mut plain = String::new();
    let mut depth_braces = 0;
    let mut skipping_group = false;
    for c in expr.chars() {
        match c {
            '{' | '[' => depth_braces += 1,
            '}' | ']' => depth_braces -= 1,
            _ if depth_braces > 0 => {}
            '(' if skipping_group => {}
            ')' if skipping_group => skipping_group = false,
            _ if skipping_group => {}
            _ => plain.push(c),
        }
        for clause in [" by ", " without "] {
            if depth_braces == 0 && !skipping_group && plain.ends_with(clause) {
                plain.truncate(plain.len() - clause.len());
                plain.push(' ');
                skipping_group = true;
            }
        }
    }
    plain
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| !word.is_empty() && !word.starts_with(|c: char| c.is_ascii_digit()))
        .filter(|word| !FUNCTIONS.contains(word) && *word != "by" && *word != "without")
        .map(str::to_owned)
        .collect()
}

/// The ports an ingress rule of `policy` opens.
fn opened_ports(policy: &Value) -> Vec<u64> {
    let rules = policy["spec"]["ingress"].as_array().unwrap();
    let ports = rules
        .iter()
        .flat_map(|rule| rule["ports"].as_array().unwrap());
    ports.filter_map(|port| port["port"].as_u64()).collect()
}

/// The gateway's `/metrics` is on a port of its own, which only Prometheus may reach: declared
/// on the pod, left off the Service (which would publish it), opened to Prometheus' pods alone,
/// and where both Prometheus configurations scrape the gateway.
#[test]
fn only_prometheus_reaches_the_gateways_metrics() {
    for overlay in OVERLAYS {
        let docs = yaml_documents(&render(overlay));
        let pod = &named(&docs, "Deployment", "gateway")["spec"]["template"]["spec"];
        let ports = pod["containers"][0]["ports"].as_array().unwrap();
        let metrics = ports.iter().find(|p| p["name"] == "metrics").unwrap();
        assert_eq!(metrics["containerPort"], 9090, "{overlay}");
        let published = &named(&docs, "Service", "gateway")["spec"]["ports"];
        assert_eq!(
            published.as_array().unwrap().len(),
            1,
            "{overlay}: {published}"
        );
        let public = named(&docs, "NetworkPolicy", "gateway-ingress");
        assert_eq!(opened_ports(public), [8080], "{overlay}");
        let policy = named(&docs, "NetworkPolicy", "gateway-metrics-from-prometheus");
        assert_eq!(opened_ports(policy), [9090], "{overlay}");
        let from = &policy["spec"]["ingress"][0]["from"];
        assert_eq!(from.as_array().unwrap().len(), 1, "{overlay}");
        assert_eq!(
            from[0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
            "prometheus"
        );
    }
    let dir = root().join("k8s/base/observability");
    let compose = std::fs::read_to_string(dir.join("prometheus-compose.yml")).unwrap();
    assert!(compose.contains("gateway:9090") && !compose.contains("gateway:8080"));
    let kubernetes = std::fs::read_to_string(dir.join("prometheus.yml")).unwrap();
    assert!(kubernetes.contains("gateway;metrics"), "{kubernetes}");
}

/// The Grafana dashboard (Compose and Kubernetes) parses, every panel queries Prometheus, and
/// every metric it queries is one the services export; both Prometheus configurations parse and
/// scrape every service under its name.
#[test]
fn the_dashboard_and_the_scrape_configurations_match_what_the_services_export() {
    let dir = root().join("k8s/base/observability");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("mealkit-dashboard.json")).unwrap())
            .expect("the dashboard is JSON");
    let exported = exported_metrics();
    assert!(exported.contains("sagas_stuck") && exported.contains("dead_letters_waiting"));
    let mut queried = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().expect("a title");
        assert_eq!(panel["datasource"]["uid"], "prometheus", "{title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} queries something");
        for target in targets {
            let expr = target["expr"].as_str().expect("an expression");
            let metrics = metrics_in(expr);
            assert!(!metrics.is_empty(), "{title}: {expr} selects no metric");
            for metric in metrics {
                assert!(
                    exported.contains(&metric),
                    "{title}: {metric} (in {expr}) is not exported by any service"
                );
                queried.insert(metric);
            }
        }
    }
    for wanted in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "consumer_event_age_seconds_bucket",
        "sagas_stuck",
        "circuit_breaker_state",
        "consumer_batch_events",
        "dead_letters_waiting",
    ] {
        assert!(queried.contains(wanted), "the dashboard shows {wanted}");
    }
    assert_eq!(
        metrics_in("sum by (le, job) (rate(x_bucket{job=\"order\"}[1m]))"),
        BTreeSet::from(["x_bucket".to_owned()])
    );

    let compose: Value =
        yaml_documents(&std::fs::read_to_string(dir.join("prometheus-compose.yml")).unwrap())
            .remove(0);
    let jobs: BTreeSet<&str> = compose["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["job_name"].as_str().unwrap())
        .collect();
    assert_eq!(jobs, apps().into_iter().collect());
    let kubernetes: Value =
        yaml_documents(&std::fs::read_to_string(dir.join("prometheus.yml")).unwrap()).remove(0);
    let keep = kubernetes["scrape_configs"][0]["relabel_configs"][0]["regex"]
        .as_str()
        .unwrap();
    assert_eq!(
        keep.split('|').collect::<BTreeSet<_>>(),
        apps().into_iter().collect()
    );
    let provisioning: Value =
        yaml_documents(&std::fs::read_to_string(dir.join("grafana-provisioning.yaml")).unwrap())
            .remove(0);
    assert_eq!(
        provisioning["datasources"][0]["url"],
        "http://prometheus:9090"
    );
}
