//! The deployment files agree with the code: every overlay renders and validates against the
//! Kubernetes schemas of the minimum version and newer ones (offline), and what matters is
//! asserted on the rendered manifests and on docker-compose.yml. The source of truth for setting
//! names is the code itself: each service's settings function is run and the variables it reads
//! recorded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The oldest Kubernetes the manifests run on, as the README's Kubernetes section states it:
/// `preStop.sleep` (every service's drain pause) is on by default from 1.30.
const MINIMUM_KUBERNETES: (u64, u64) = (1, 30);
/// The schemas every overlay is validated against: the minimum and newer ones, never older.
const KUBERNETES_VERSIONS: [&str; 3] = ["1.30.0", "1.32.0", "1.35.0"];
const OVERLAYS: [&str; 3] = ["kind", "aks", "aks-istio"];
/// ConfigMaps mounted as files (Postgres' roles script, Kafka's start and access scripts,
/// Prometheus' and Grafana's configuration), not read as settings.
const OBSERVABILITY_FILES: [&str; 5] = [
    "postgres-roles",
    "kafka-access",
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
        names.extend(SAMPLER.iter().map(|n| n.to_string()));
    }
    assert!(
        reads["order"].contains("PAYMENT_BREAKER_FAILURES"),
        "{:?}",
        reads["order"]
    );
    // Every service signs in to the bus as itself; the gateway never connects to it.
    for (service, names) in &reads {
        let signs_in = BUS_IDENTITY.iter().all(|n| names.contains(*n));
        assert_eq!(signs_in, *service != "gateway", "{service}: {names:?}");
    }
    reads
}

/// Read by the OpenTelemetry SDK itself when traces are exported (`opentelemetry_sdk`'s trace
/// `Config`, which `platform::telemetry` leaves to the standard variables): which traces are
/// kept, not settings of ours.
const SAMPLER: [&str; 2] = ["OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"];

/// The settings that make a service its own principal on the bus (`User:<service>`).
const BUS_IDENTITY: [&str; 4] = [
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_USERNAME",
    "KAFKA_PASSWORD",
];

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

fn minor(version: &str) -> (u64, u64) {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

#[test]
fn every_overlay_validates_against_the_kubernetes_schemas() {
    assert_eq!(minor(KUBERNETES_VERSIONS[0]), MINIMUM_KUBERNETES);
    for version in KUBERNETES_VERSIONS {
        assert!(minor(version) >= MINIMUM_KUBERNETES, "{version}");
    }
    for overlay in OVERLAYS {
        let file =
            std::env::temp_dir().join(format!("mealkit-{overlay}-{}.yaml", std::process::id()));
        std::fs::write(&file, render(overlay)).unwrap();
        for version in KUBERNETES_VERSIONS {
            let out = Command::new("kubernetes-validate")
                .args(["-k", version, "--strict", "--quiet"])
                .arg(&file)
                .output()
                .expect("kubernetes-validate is installed (./dev test installs it)");
            let report = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "{overlay} does not validate against {version}:\n{report}"
            );
            // Only the Istio CRDs, which Kubernetes' own schemas do not describe, may go
            // unchecked.
            for line in report
                .lines()
                .filter(|l| l.contains("Couldn't find schema"))
            {
                assert!(
                    line.contains("networking.istio.io") || line.contains("security.istio.io"),
                    "{overlay}: {line}"
                );
            }
        }
        let _ = std::fs::remove_file(&file);
    }
}

/// The minimum Kubernetes is stated where a deployer reads first, the README's Kubernetes
/// section, and it is the one the manifests need: `preStop.sleep`, which every service uses, is
/// on by default from 1.30 (beta; alpha behind a gate in 1.29).
#[test]
fn the_minimum_kubernetes_is_stated_and_needed() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Deploy to Kubernetes"))
        .expect("README's Kubernetes section");
    let (major, minor) = MINIMUM_KUBERNETES;
    assert!(
        section.contains(&format!("Kubernetes {major}.{minor} or later")),
        "the README's Kubernetes section states Kubernetes {major}.{minor} or later"
    );
    for overlay in OVERLAYS {
        let docs = yaml_documents(&render(overlay));
        let sleeps = by_kind(&docs, "Deployment")
            .into_iter()
            .flat_map(|d| {
                d["spec"]["template"]["spec"]["containers"]
                    .as_array()
                    .unwrap()
                    .iter()
            })
            .filter(|c| c["lifecycle"]["preStop"]["sleep"]["seconds"].is_u64())
            .count();
        assert!(sleeps >= apps().len(), "{overlay}: {sleeps} preStop sleeps");
    }
    assert!(MINIMUM_KUBERNETES >= (1, 30), "preStop.sleep needs 1.30");
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
                // On AKS, order's client secret and the database and Kafka credentials are
                // created by the operator (README), never committed; every other Secret a
                // container reads ships with the overlay.
                if overlay.starts_with("aks")
                    && ["order-credential", "mealkit-db", "mealkit-kafka"].contains(&secret_name)
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
        let least = if overlay == "kind" { 1 } else { 2 };
        assert_eq!(order_hpa["spec"]["minReplicas"], least, "{overlay}");
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
        let job = &named(&docs, "Job", "kafka-setup")["spec"]["template"]["spec"];
        assert_eq!(
            strings(&job["containers"][0]["command"]),
            ["/bin/bash", "/etc/mealkit/kafka-access.sh"],
            "{overlay}: the Kafka setup job runs the access script"
        );
        assert!(
            job["volumes"][0]["configMap"]["name"]
                .as_str()
                .is_some_and(|name| name.starts_with("kafka-access")),
            "{overlay}: the access script comes from its ConfigMap"
        );

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
            assert!(
                named(&docs, "Namespace", "mealkit")["metadata"]["labels"]["istio.io/rev"]
                    .is_string(),
                "sidecars injected by revision"
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
    for infra in ["postgres", "kafka", "kafka-setup"] {
        assert!(services.contains_key(infra), "compose has {infra}");
    }
    assert_eq!(
        strings(&services["kafka-setup"]["entrypoint"]),
        ["/bin/bash", "/etc/mealkit/kafka-access.sh"]
    );
    assert!(
        strings(&services["kafka-setup"]["volumes"])
            .contains(&"./k8s/base/kafka-access.sh:/etc/mealkit/kafka-access.sh:ro"),
        "compose's Kafka setup runs the manifests' access script"
    );
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
        services["kafka-setup"]["depends_on"]["kafka"]["condition"],
        "service_healthy"
    );
}

/// A node drain or a lost zone never takes a service down on AKS: every service and the gateway
/// run at least two pods (the Deployment's own count too, so an apply does not scale below the
/// HPA's minimum), a drain may evict only while one stays (PDB `minAvailable: 1`), and the pods
/// of one Deployment are spread over zones and nodes, preferred, not required. kind, a one-node
/// throwaway, keeps one of each and no spread.
#[test]
fn aks_survives_a_node_drain_and_kind_keeps_one_of_each() {
    for overlay in OVERLAYS {
        let docs = yaml_documents(&render(overlay));
        let aks = overlay.starts_with("aks");
        for name in apps() {
            let deployment = named(&docs, "Deployment", name);
            let hpa = &named(&docs, "HorizontalPodAutoscaler", name)["spec"];
            let pdb = &named(&docs, "PodDisruptionBudget", name)["spec"];
            let least = hpa["minReplicas"].as_u64().unwrap();
            let replicas = deployment["spec"]["replicas"].as_u64().unwrap_or(1);
            let spread = &deployment["spec"]["template"]["spec"]["topologySpreadConstraints"];
            if !aks {
                assert_eq!((least, replicas), (1, 1), "{overlay}/{name}");
                assert!(spread.is_null(), "{overlay}/{name}: {spread}");
                continue;
            }
            assert!(least >= 2, "{overlay}/{name}: minReplicas {least}");
            assert!(
                replicas >= least,
                "{overlay}/{name}: replicas {replicas} below the HPA's {least}"
            );
            assert_eq!(pdb["minAvailable"], 1, "{overlay}/{name}");
            assert!(pdb["maxUnavailable"].is_null(), "{overlay}/{name}");
            let labels = &deployment["spec"]["template"]["metadata"]["labels"];
            let keys: BTreeSet<&str> = spread
                .as_array()
                .unwrap_or_else(|| panic!("{overlay}/{name}: no topology spread"))
                .iter()
                .map(|c| {
                    assert_eq!(c["whenUnsatisfiable"], "ScheduleAnyway", "{overlay}/{name}");
                    assert_eq!(c["maxSkew"], 1, "{overlay}/{name}");
                    // Counts this Deployment's pods: its selector matches the pod, and the pod's
                    // own name label narrows it to the one service.
                    for m in c["labelSelector"]["matchExpressions"].as_array().unwrap() {
                        let key = m["key"].as_str().unwrap();
                        assert!(
                            m["operator"] == "Exists" && labels[key].is_string()
                                || m["operator"] == "In"
                                    && m["values"].as_array().unwrap().contains(&labels[key]),
                            "{overlay}/{name}: {m}"
                        );
                    }
                    let narrows = strings(&c["matchLabelKeys"]).contains(&"app.kubernetes.io/name")
                        || c["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] == name;
                    assert!(
                        narrows,
                        "{overlay}/{name}: spreads other services' pods too"
                    );
                    c["topologyKey"].as_str().unwrap()
                })
                .collect();
            assert_eq!(
                keys,
                BTreeSet::from(["topology.kubernetes.io/zone", "kubernetes.io/hostname"]),
                "{overlay}/{name}"
            );
        }
    }
}

/// kind's autoscaling can scale: kind has no metrics-server, so the README's kind steps and the
/// kind overlay install it (with `--kubelet-insecure-tls`, kind's kubelets being self-signed)
/// before the overlay is applied. And kind's gateway, which holds the dev issuer's key in its own
/// pod, is never scaled past one: its HPA's maximum is 1. AKS' gateway scales (no dev issuer).
#[test]
fn kind_has_metrics_and_one_gateway() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("kind create cluster")
        .expect("README's kind steps");
    let steps = &readme[start..];
    let apply = steps.find("kubectl apply -k k8s/overlays/kind").unwrap();
    let metrics = steps
        .find("metrics-server/releases/download/v")
        .unwrap_or_else(|| panic!("README's kind steps install metrics-server (a pinned release)"));
    assert!(metrics < apply, "metrics-server before the overlay");
    assert!(steps[..apply].contains("--kubelet-insecure-tls"));
    let overlay =
        std::fs::read_to_string(root().join("k8s/overlays/kind/kustomization.yaml")).unwrap();
    assert!(
        overlay.contains("metrics-server") && overlay.contains("--kubelet-insecure-tls"),
        "the kind overlay says how to install metrics-server"
    );
    for overlay in OVERLAYS {
        let docs = yaml_documents(&render(overlay));
        let hpa = &named(&docs, "HorizontalPodAutoscaler", "gateway")["spec"];
        let most = hpa["maxReplicas"].as_u64().unwrap();
        let dev_issuer = env_of(
            &named(&docs, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0],
        )
        .contains_key("AUTH_DEV_ISSUER");
        assert_eq!(dev_issuer, overlay == "kind", "{overlay}");
        if dev_issuer {
            assert_eq!(most, 1, "{overlay}: one gateway holds the dev issuer's key");
        } else {
            assert!(most > hpa["minReplicas"].as_u64().unwrap(), "{overlay}");
        }
    }
}

/// The image builds exactly what `Cargo.lock` pins: every cargo build, dependency cook and
/// install in the Dockerfile is `--locked`, so a stale or missing lock file fails the build
/// instead of resolving newer crates.
#[test]
fn the_image_builds_the_locked_dependencies() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let builds: Vec<&str> = dockerfile
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter(|l| {
            ["cargo build", "cargo chef cook", "cargo install"]
                .iter()
                .any(|c| l.contains(c))
        })
        .collect();
    assert!(builds.len() >= 3, "{builds:?}");
    for line in builds {
        assert!(line.contains("--locked"), "Dockerfile: {line}");
    }
}

/// The observability pods are kept like the services: non-root, the runtime's default seccomp
/// profile, no privilege escalation, readiness and liveness probes. Jaeger, in memory, is sent
/// a sample: one trace in ten, decided at the root (every trace on kind, a demo). Grafana's admin
/// password comes from the grafana-admin Secret: a demo value on kind, none committed for AKS,
/// an overridable demo default in Compose.
#[test]
fn observability_is_kept_like_the_services() {
    for overlay in OVERLAYS {
        let docs = yaml_documents(&render(overlay));
        let pods: Vec<&Value> = by_kind(&docs, "Deployment")
            .into_iter()
            .filter(|d| d["metadata"]["labels"]["app.kubernetes.io/component"] == "observability")
            .collect();
        assert_eq!(pods.len(), 3, "{overlay}: Jaeger, Prometheus, Grafana");
        for deployment in pods {
            let name = deployment["metadata"]["name"].as_str().unwrap();
            let spec = &deployment["spec"]["template"]["spec"];
            assert_eq!(
                spec["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
                "{overlay}/{name}"
            );
            assert_eq!(
                spec["securityContext"]["runAsNonRoot"], true,
                "{overlay}/{name}"
            );
            for container in spec["containers"].as_array().unwrap() {
                for probe in ["readinessProbe", "livenessProbe"] {
                    assert!(
                        container[probe]["httpGet"]["path"].is_string(),
                        "{overlay}/{name}: {probe}"
                    );
                }
                assert_eq!(
                    container["securityContext"]["allowPrivilegeEscalation"], false,
                    "{overlay}/{name}"
                );
            }
        }
        let grafana =
            &named(&docs, "Deployment", "grafana")["spec"]["template"]["spec"]["containers"][0];
        let password = env_of(grafana)["GF_SECURITY_ADMIN_PASSWORD"];
        assert_eq!(
            password["valueFrom"]["secretKeyRef"]["name"], "grafana-admin",
            "{overlay}: Grafana's admin password from a Secret"
        );
        let secret = docs
            .iter()
            .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == "grafana-admin");
        match secret {
            Some(secret) => {
                assert_eq!(
                    overlay, "kind",
                    "{overlay} commits Grafana's admin password"
                );
                assert!(secret["data"]["GF_SECURITY_ADMIN_PASSWORD"].is_string());
            }
            None => assert!(overlay.starts_with("aks"), "{overlay}: no grafana-admin"),
        }
        let common = &named(&docs, "ConfigMap", "mealkit-common")["data"];
        assert_eq!(
            common["OTEL_TRACES_SAMPLER"], "parentbased_traceidratio",
            "{overlay}: sampled where the trace starts"
        );
        let ratio: f64 = common["OTEL_TRACES_SAMPLER_ARG"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        if overlay == "kind" {
            assert_eq!(ratio, 1.0, "kind keeps every trace");
        } else {
            assert!(ratio > 0.0 && ratio < 1.0, "{overlay}: ratio {ratio}");
        }
    }
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    let compose = yaml_documents(&text).remove(0);
    let password = compose["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
        .as_str()
        .expect("compose sets Grafana's admin password");
    assert!(
        password.starts_with("${MEALKIT_GRAFANA_ADMIN_PASSWORD:-compose-demo-only-"),
        "{password}"
    );
}

/// The README's Kubernetes load test and the calls around it send a customer's token, which
/// ordering needs (without one every request is a 401): `T` is set in the block before any
/// request to the gateway's orders uses it.
#[test]
fn the_kubernetes_load_test_sends_a_token() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Deploy to Kubernetes"))
        .expect("README's Kubernetes section");
    let mut calls = 0;
    let mut token_at = None;
    for (i, line) in section.lines().enumerate() {
        if line.starts_with("T=$(") {
            token_at.get_or_insert(i);
        }
        let code = line.split(" #").next().unwrap();
        if (code.starts_with("siege ") || code.starts_with("curl ")) && code.contains("$G/orders") {
            calls += 1;
            assert!(
                code.contains("-H \"Authorization: Bearer $T\""),
                "README's Kubernetes section: {line}"
            );
            assert!(token_at.is_some_and(|t| t < i), "T is set before: {line}");
        }
    }
    assert!(calls >= 3, "{calls} calls to the gateway's orders");
}

/// A duration of Istio's (`12s`, `500ms`), in milliseconds.
fn istio_millis(duration: &str) -> u64 {
    match duration.strip_suffix("ms") {
        Some(ms) => ms.parse().unwrap(),
        None => {
            let seconds: f64 = duration.strip_suffix('s').unwrap().parse().unwrap();
            (seconds * 1000.0) as u64
        }
    }
}

/// The mesh never cuts a call the application still waits for: every VirtualService route's
/// timeout, and any per-try timeout, is above the callers' own (order's PAYMENT_TIMEOUT_MS and
/// MARKETING_TIMEOUT_MS, the gateway's UPSTREAM_TIMEOUT_MS, as the overlay sets them); the mesh
/// retries only routes that match idempotent methods alone. Sidecars are injected by revision
/// (`istio.io/rev: asm-1-<minor>`, what AKS' add-on reads), never `istio-injection`, and the
/// topic-creation Job, which must exit, gets none.
#[test]
fn istio_waits_longer_than_the_app_and_retries_only_reads() {
    let docs = yaml_documents(&render("aks-istio"));
    let waits: u64 = by_kind(&docs, "ConfigMap")
        .iter()
        .flat_map(|cm| cm["data"].as_object().into_iter().flatten())
        .filter(|(key, _)| {
            [
                "PAYMENT_TIMEOUT_MS",
                "MARKETING_TIMEOUT_MS",
                "UPSTREAM_TIMEOUT_MS",
            ]
            .contains(&key.as_str())
        })
        .map(|(_, v)| v.as_str().unwrap().parse::<u64>().unwrap())
        .max()
        .expect("the callers' timeouts");
    assert!(waits >= 10_000, "the gateway waits {waits} ms");
    let services = by_kind(&docs, "VirtualService");
    assert!(services.len() >= 2);
    for vs in services {
        let name = vs["metadata"]["name"].as_str().unwrap();
        for route in vs["spec"]["http"].as_array().unwrap() {
            let timeout = istio_millis(route["timeout"].as_str().expect("a route timeout"));
            assert!(timeout > waits, "{name}: {timeout} ms <= {waits} ms");
            let retries = &route["retries"];
            if let Some(per_try) = retries["perTryTimeout"].as_str() {
                assert!(
                    istio_millis(per_try) > waits,
                    "{name}: perTryTimeout {per_try}"
                );
            }
            if retries["attempts"].as_u64().unwrap_or(0) > 0 {
                let methods: Vec<&Value> = route["match"]
                    .as_array()
                    .map(|m| m.iter().map(|m| &m["method"]["exact"]).collect())
                    .unwrap_or_default();
                assert!(
                    !methods.is_empty() && methods.iter().all(|m| *m == "GET" || *m == "HEAD"),
                    "{name}: retries a route that is not GET/HEAD only: {route}"
                );
            } else {
                assert_eq!(
                    retries["attempts"], 0,
                    "{name}: Istio's default retries writes"
                );
            }
        }
    }
    let labels = &named(&docs, "Namespace", "mealkit")["metadata"]["labels"];
    assert!(
        labels["istio-injection"].is_null(),
        "AKS' add-on ignores it"
    );
    let revision = labels["istio.io/rev"].as_str().expect("istio.io/rev");
    let minor = revision.strip_prefix("asm-1-").expect("asm-1-<minor>");
    assert!(minor.parse::<u32>().is_ok(), "{revision}");
    let job = &named(&docs, "Job", "kafka-setup")["spec"]["template"]["metadata"];
    assert_eq!(job["labels"]["sidecar.istio.io/inject"], "false");
}

/// AKS serves the shop over https, which signing in needs: an Ingress to the gateway's public
/// port whose TLS host is its rule's host and whose certificate cert-manager makes (a
/// ClusterIssuer named on it). The gateway's LoadBalancer keeps client addresses
/// (`externalTrafficPolicy: Local`), so its per-address rate limit counts clients. kind has
/// neither.
#[test]
fn aks_serves_https_and_keeps_client_addresses() {
    for overlay in OVERLAYS {
        let docs = yaml_documents(&render(overlay));
        let service = &named(&docs, "Service", "gateway")["spec"];
        let ingresses = by_kind(&docs, "Ingress");
        if !overlay.starts_with("aks") {
            assert!(ingresses.is_empty(), "{overlay}");
            continue;
        }
        assert_eq!(service["type"], "LoadBalancer", "{overlay}");
        assert_eq!(service["externalTrafficPolicy"], "Local", "{overlay}");
        let ingress = named(&docs, "Ingress", "gateway");
        assert!(
            ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"].is_string(),
            "{overlay}: cert-manager makes the certificate"
        );
        let spec = &ingress["spec"];
        assert!(spec["ingressClassName"].is_string(), "{overlay}");
        let tls = &spec["tls"][0];
        assert!(tls["secretName"].is_string(), "{overlay}");
        let rule = &spec["rules"][0];
        assert!(
            strings(&tls["hosts"]).contains(&rule["host"].as_str().unwrap()),
            "{overlay}: the certificate covers the rule's host"
        );
        let backend = &rule["http"]["paths"][0]["backend"]["service"];
        assert_eq!(backend["name"], "gateway", "{overlay}");
        let port = &service["ports"][0];
        assert!(
            backend["port"]["name"] == port["name"] || backend["port"]["number"] == port["port"],
            "{overlay}: the gateway's public port"
        );
    }
}

/// Whether an AuthorizationPolicy rule's operations let `method` reach `path` (Istio's exact and
/// `/prefix/*` paths).
fn operation_allows(rule: &Value, method: &str, path: &str) -> bool {
    let matches = |patterns: &Value| {
        strings(patterns).iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => *p == path,
        })
    };
    let Some(to) = rule["to"].as_array() else {
        return true;
    };
    to.iter().any(|t| {
        let op = &t["operation"];
        (op["methods"].is_null() || strings(&op["methods"]).contains(&method))
            && (op["paths"].is_null() || matches(&op["paths"]))
            && !matches(&op["notPaths"])
    })
}

/// The mesh authenticates every call and each service takes only its callers: STRICT mutual TLS
/// for the namespace, plaintext only on the ports whose callers have no sidecar (the gateway's
/// public port, Kafka's for the setup Job); each service and the gateway run as their own
/// ServiceAccount, and an ALLOW AuthorizationPolicy per service names who may call what: only
/// order may charge (`POST /payments`) or alert a seller, the gateway may not, Prometheus reads
/// `/metrics` alone and scrapes with the mesh's certificate.
#[test]
fn the_mesh_admits_each_service_only_its_callers() {
    let docs = yaml_documents(&render("aks-istio"));
    let principal = |sa: &str| format!("cluster.local/ns/mealkit/sa/{sa}");
    let peer = by_kind(&docs, "PeerAuthentication");
    let default = peer
        .iter()
        .find(|p| p["spec"]["selector"].is_null())
        .expect("a namespace-wide PeerAuthentication");
    assert_eq!(default["spec"]["mtls"]["mode"], "STRICT");
    for p in &peer {
        assert_ne!(p["spec"]["mtls"]["mode"], "PERMISSIVE", "{p}");
        assert_ne!(p["spec"]["mtls"]["mode"], "DISABLE", "{p}");
        for (port, level) in p["spec"]["portLevelMtls"].as_object().into_iter().flatten() {
            let who = p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
                .as_str()
                .unwrap();
            assert!(
                [("gateway", "8080"), ("kafka", "9092")].contains(&(who, port.as_str())),
                "{who}:{port} is {level}"
            );
        }
    }
    let policies = by_kind(&docs, "AuthorizationPolicy");
    for app in apps() {
        let pod = &named(&docs, "Deployment", app)["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], app, "{app} runs as itself");
        named(&docs, "ServiceAccount", app);
        let policy = policies
            .iter()
            .find(|p| p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == app)
            .unwrap_or_else(|| panic!("no AuthorizationPolicy for {app}"));
        assert_eq!(policy["spec"]["action"], "ALLOW", "{app}");
        let rules = policy["spec"]["rules"].as_array().unwrap();
        let callers = |method: &str, path: &str| -> BTreeSet<String> {
            rules
                .iter()
                .filter(|r| operation_allows(r, method, path))
                .flat_map(|r| match r["from"].as_array() {
                    Some(from) => from
                        .iter()
                        .flat_map(|f| strings(&f["source"]["principals"]))
                        .map(str::to_owned)
                        .collect(),
                    None => vec!["anyone".to_owned()],
                })
                .collect()
        };
        if app == "gateway" {
            assert_eq!(callers("GET", "/"), BTreeSet::from(["anyone".to_owned()]));
            continue;
        }
        assert_eq!(
            callers("GET", "/metrics"),
            BTreeSet::from([principal("prometheus")]),
            "{app}: /metrics"
        );
        // The calls between services (contracts::calls): order's alone.
        let internal = match app {
            "payment" => Some("/payments"),
            "marketing" => Some("/notifications/seller-alerts"),
            _ => None,
        };
        if let Some(internal) = internal {
            assert_eq!(
                callers("POST", internal),
                BTreeSet::from([principal("order")]),
                "{app}: POST {internal}"
            );
        }
        let public = if app == "payment" {
            "/payments/1"
        } else {
            "/x"
        };
        assert!(
            callers("GET", public).contains(&principal("gateway")),
            "{app}: the gateway reaches the public routes"
        );
    }
    // Prometheus scrapes with the certificate its sidecar writes.
    let pod = &named(&docs, "Deployment", "prometheus")["spec"]["template"];
    let config = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "config")
        .unwrap()["configMap"]["name"]
        .as_str()
        .unwrap();
    let prometheus = named(&docs, "ConfigMap", config);
    let scrape = yaml_documents(prometheus["data"]["prometheus.yml"].as_str().unwrap()).remove(0);
    let job = &scrape["scrape_configs"][0];
    assert_eq!(job["scheme"], "https");
    let key = job["tls_config"]["key_file"].as_str().unwrap();
    assert!(
        pod["spec"]["containers"][0]["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(
                |m| m["name"] == "istio-certs" && key.starts_with(m["mountPath"].as_str().unwrap())
            ),
        "{key}"
    );
    assert!(
        pod["metadata"]["annotations"]["proxy.istio.io/config"]
            .as_str()
            .unwrap()
            .contains("OUTPUT_CERTS")
    );
    // Its sidecar leaves its inbound traffic alone, so Grafana must reach it in plaintext.
    if pod["metadata"]["annotations"]["traffic.sidecar.istio.io/includeInboundPorts"] == "" {
        let rule = named(&docs, "DestinationRule", "prometheus");
        assert_eq!(rule["spec"]["trafficPolicy"]["tls"]["mode"], "DISABLE");
    }
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

/// A container's `env`, by name.
fn env_of(container: &Value) -> BTreeMap<&str, &Value> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (e["name"].as_str().unwrap(), e))
        .collect()
}

/// The Secret key holding `service`'s Kafka password.
fn kafka_password_key(service: &str) -> String {
    format!("{}_KAFKA_PASSWORD", service.to_uppercase())
}

/// Each service is its own principal on the bus (`User:<service>`) with its own password, in
/// every overlay and in Compose; the gateway has no Kafka identity at all; the setup job and the
/// broker take the passwords from the same Secret; kind ships demo values, AKS none.
#[test]
fn each_service_is_its_own_principal_on_the_bus() {
    let services: Vec<&str> = contracts::access::RULES.iter().map(|a| a.service).collect();
    let launched: BTreeSet<&str> = stack::SERVICES.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        services.iter().copied().collect::<BTreeSet<_>>(),
        launched,
        "the access table covers every service"
    );
    let secret_ref = |env: &BTreeMap<&str, &Value>, name: &str| {
        let reference = &env
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .get("valueFrom")
            .map_or(Value::Null, |v| v["secretKeyRef"].clone());
        (
            reference["name"].as_str().unwrap_or_default().to_owned(),
            reference["key"].as_str().unwrap_or_default().to_owned(),
        )
    };
    for overlay in OVERLAYS {
        let docs = yaml_documents(&render(overlay));
        let common = &named(&docs, "ConfigMap", "mealkit-common")["data"];
        assert_eq!(
            common["KAFKA_SECURITY_PROTOCOL"], "sasl_plaintext",
            "{overlay}"
        );
        assert_eq!(common["KAFKA_SASL_MECHANISM"], "SCRAM-SHA-512", "{overlay}");
        for service in &services {
            let deployment = named(&docs, "Deployment", service);
            let env = env_of(&deployment["spec"]["template"]["spec"]["containers"][0]);
            assert_eq!(
                env.get("KAFKA_USERNAME").map(|e| &e["value"]),
                Some(&Value::from(*service)),
                "{overlay}/{service}: KAFKA_USERNAME"
            );
            assert_eq!(
                secret_ref(&env, "KAFKA_PASSWORD"),
                ("mealkit-kafka".to_owned(), kafka_password_key(service)),
                "{overlay}/{service}: KAFKA_PASSWORD from its own key"
            );
        }
        let gateway = &named(&docs, "Deployment", "gateway")["spec"]["template"]["spec"];
        let gateway_env = env_of(&gateway["containers"][0]);
        assert!(
            gateway_env.keys().all(|name| !name.starts_with("KAFKA_")),
            "{overlay}: the gateway has no Kafka identity"
        );
        for source in gateway["containers"][0]["envFrom"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let cm = named(
                &docs,
                "ConfigMap",
                source["configMapRef"]["name"].as_str().unwrap(),
            );
            assert!(
                cm["data"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .all(|k| !k.starts_with("KAFKA_")),
                "{overlay}: the gateway reads no Kafka setting"
            );
        }

        let job = &named(&docs, "Job", "kafka-setup")["spec"]["template"]["spec"];
        let job_env = env_of(&job["containers"][0]);
        let broker = &named(&docs, "StatefulSet", "kafka")["spec"]["template"]["spec"];
        let broker_env = env_of(&broker["containers"][0]);
        for env in [&job_env, &broker_env] {
            assert_eq!(
                secret_ref(env, "ADMIN_PASSWORD"),
                (
                    "mealkit-kafka".to_owned(),
                    "KAFKA_ADMIN_PASSWORD".to_owned()
                ),
                "{overlay}: the admin's password"
            );
        }
        for service in &services {
            let key = kafka_password_key(service);
            assert_eq!(
                secret_ref(&job_env, &key),
                ("mealkit-kafka".to_owned(), key.clone()),
                "{overlay}: the setup job's {key}"
            );
        }

        let secrets: Vec<&Value> = by_kind(&docs, "Secret")
            .into_iter()
            .filter(|s| s["metadata"]["name"] == "mealkit-kafka")
            .collect();
        if overlay == "kind" {
            let data = secrets[0]["data"]
                .as_object()
                .expect("kind's demo passwords");
            let mut keys: BTreeSet<String> =
                services.iter().map(|s| kafka_password_key(s)).collect();
            keys.insert("KAFKA_ADMIN_PASSWORD".to_owned());
            assert_eq!(data.keys().cloned().collect::<BTreeSet<_>>(), keys, "kind");
        } else {
            assert!(secrets.is_empty(), "{overlay} commits the Kafka Secret");
        }
    }

    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    let compose = yaml_documents(&text).remove(0);
    let setup = &compose["services"]["kafka-setup"]["environment"];
    assert!(
        setup["ADMIN_PASSWORD"].is_string(),
        "compose's admin password"
    );
    for service in &services {
        let env = &compose["services"][service]["environment"];
        assert_eq!(env["KAFKA_USERNAME"], *service, "compose {service}");
        assert_eq!(
            env["KAFKA_SECURITY_PROTOCOL"], "sasl_plaintext",
            "compose {service}"
        );
        assert_eq!(
            env["KAFKA_SASL_MECHANISM"], "SCRAM-SHA-512",
            "compose {service}"
        );
        // The same variable the setup job makes its credential from.
        assert_eq!(
            env["KAFKA_PASSWORD"],
            setup[kafka_password_key(service)],
            "compose {service}: KAFKA_PASSWORD"
        );
        assert!(env["KAFKA_PASSWORD"].is_string(), "compose {service}");
    }
    let gateway = compose["services"]["gateway"]["environment"]
        .as_object()
        .unwrap();
    assert!(
        gateway.keys().all(|name| !name.starts_with("KAFKA_")),
        "compose: the gateway has no Kafka identity"
    );
}

/// The access table in `kafka-access.sh` (what the setup job grants, in Kubernetes and Compose),
/// one line per service as `<service> <writes> <reads> <groups>`, made from
/// `contracts::access::RULES`.
fn access_block() -> String {
    let list = |items: Vec<&str>| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(",")
        }
    };
    let mut block = String::from("\n");
    for access in contracts::access::RULES {
        let writes = list(access.writes().iter().map(|t| t.base_name()).collect());
        let reads = list(access.reads.iter().map(|t| t.base_name()).collect());
        let groups = list(access.groups.to_vec());
        block += &format!("{} {writes} {reads} {groups}\n", access.service);
    }
    block
}

/// The ACLs the setup job makes are exactly `contracts::access::RULES`: the script's table is the
/// one the rules make, every topic it creates is one of the contracts', and it grants the
/// operations the table means (write and describe, read and describe, read on a group), on
/// literal names only; the broker is formatted with the admin's credential.
#[test]
fn the_acl_script_grants_exactly_the_access_table() {
    let script = std::fs::read_to_string(root().join("k8s/base/kafka-access.sh")).unwrap();
    let table = script
        .split_once("\nACCESS='")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(table, _)| table)
        .expect("kafka-access.sh has its ACCESS='...' table");
    let wanted = access_block();
    assert_eq!(
        table, wanted,
        "kafka-access.sh's table differs from contracts::access::RULES; it should read:\n\
         ACCESS='{wanted}'"
    );
    assert!(
        script.contains(&format!(
            "\nDEAD_LETTERS={}\n",
            contracts::Topic::DeadLetter.base_name()
        )),
        "every service writes the dead-letter topic"
    );
    let mut topics: BTreeSet<&str> = BTreeSet::new();
    for line in table.lines().filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 4, "{line}");
        for list in &fields[1..3] {
            topics.extend(list.split(',').filter(|t| *t != "-"));
        }
    }
    let contracts: BTreeSet<String> = contracts::TopicNames::default().all().into_iter().collect();
    assert_eq!(
        topics
            .iter()
            .map(|t| t.to_string())
            .collect::<BTreeSet<_>>(),
        contracts,
        "the job creates every topic of the contracts, and no other"
    );
    for grant in [
        "--operation Write --operation Describe",
        "--operation Read --operation Describe",
        "--operation Read \"${to_join[@]}\"",
        "--add-config \"SCRAM-SHA-512=[password=$password]\"",
        "topics --create --if-not-exists",
    ] {
        assert!(script.contains(grant), "kafka-access.sh: {grant}");
    }
    assert!(
        !script.contains("--resource-pattern-type prefixed") && !script.contains("'*'"),
        "literal names only"
    );
    let start = std::fs::read_to_string(root().join("k8s/base/kafka-start.sh")).unwrap();
    assert!(
        start.contains("--add-scram \"SCRAM-SHA-512=[name=admin,password=$ADMIN_PASSWORD]\""),
        "the broker is formatted with the admin's SCRAM credential"
    );
    assert!(
        start.contains("mkdir -p \"$KAFKA_LOG_DIRS\""),
        "kafka-start.sh makes the log directory inside the volume before formatting it"
    );
}

/// The broker authorizes every request with the StandardAuthorizer, the admin its only super
/// user and no allow-everyone; every listener authenticates (SCRAM for clients, PLAIN for the
/// controller quorum); it starts through kafka-start.sh; its log directory is one directory
/// inside its data volume, not the volume's root (lost+found). The same in every overlay and
/// Compose.
#[test]
fn the_broker_authenticates_and_authorizes_every_request() {
    fn check(place: &str, volume: &str, setting: &dyn Fn(&str) -> Option<String>) {
        let get = |name: &str| setting(name).unwrap_or_else(|| panic!("{place}: no {name}"));
        assert_eq!(
            get("KAFKA_AUTHORIZER_CLASS_NAME"),
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "{place}"
        );
        assert_eq!(get("KAFKA_SUPER_USERS"), "User:admin", "{place}");
        assert_eq!(
            setting("KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND").as_deref(),
            Some("false"),
            "{place}"
        );
        let protocols: BTreeMap<String, String> = get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP")
            .split(',')
            .map(|pair| {
                let (name, protocol) = pair.split_once(':').unwrap();
                (name.to_owned(), protocol.to_owned())
            })
            .collect();
        for listener in get("KAFKA_LISTENERS").split(',') {
            let name = listener.split_once("://").unwrap().0;
            assert_eq!(protocols[name], "SASL_PLAINTEXT", "{place}: {listener}");
        }
        assert_eq!(
            get("KAFKA_ADVERTISED_LISTENERS"),
            "CLIENT://kafka:9092",
            "{place}"
        );
        assert_eq!(
            get("KAFKA_LISTENER_NAME_CLIENT_SASL_ENABLED_MECHANISMS"),
            "SCRAM-SHA-512",
            "{place}"
        );
        assert_eq!(get("KAFKA_INTER_BROKER_LISTENER_NAME"), "CLIENT", "{place}");
        assert_eq!(
            get("KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL"),
            "SCRAM-SHA-512",
            "{place}"
        );
        assert_eq!(
            get("KAFKA_SASL_MECHANISM_CONTROLLER_PROTOCOL"),
            "PLAIN",
            "{place}"
        );
        assert!(
            get("KAFKA_LISTENER_NAME_CLIENT_SCRAM___SHA___512_SASL_JAAS_CONFIG")
                .contains("username=\"admin\""),
            "{place}: the broker connects to itself as the admin"
        );
        assert!(
            get("KAFKA_LISTENER_NAME_CONTROLLER_PLAIN_SASL_JAAS_CONFIG").contains("user_admin="),
            "{place}: the admin is the controller's one PLAIN user"
        );
        // A directory inside the data volume, never its root: an ext4 disk has lost+found
        // there, which the broker refuses as a log directory.
        let logs = get("KAFKA_LOG_DIRS");
        let inside = logs
            .strip_prefix(volume.trim_end_matches('/'))
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|rest| !rest.is_empty() && !rest.contains(','));
        assert!(
            inside.is_some(),
            "{place}: KAFKA_LOG_DIRS {logs} is not one directory inside the volume at {volume}"
        );
        assert!(
            get("CLUSTER_ID").len() == 22,
            "{place}: kafka-start.sh formats with CLUSTER_ID"
        );
    }
    for overlay in OVERLAYS {
        let docs = yaml_documents(&render(overlay));
        let broker = &named(&docs, "StatefulSet", "kafka")["spec"]["template"]["spec"];
        let container = &broker["containers"][0];
        assert_eq!(
            strings(&container["command"]),
            ["/bin/bash", "/etc/mealkit/kafka-start.sh"],
            "{overlay}"
        );
        let data = &container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "data")
            .unwrap_or_else(|| panic!("{overlay}: the broker mounts its data volume"))["mountPath"];
        assert!(
            broker["securityContext"]["fsGroup"].is_u64(),
            "{overlay}: the broker may write its volume"
        );
        let env = env_of(container);
        check(overlay, data.as_str().unwrap(), &|name| {
            env.get(name)
                .and_then(|e| e["value"].as_str())
                .map(str::to_owned)
        });
    }
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    let compose = yaml_documents(&text).remove(0);
    let kafka = &compose["services"]["kafka"];
    assert_eq!(
        strings(&kafka["entrypoint"]),
        ["/bin/bash", "/etc/mealkit/kafka-start.sh"]
    );
    let data = strings(&kafka["volumes"])
        .into_iter()
        .find_map(|v| v.strip_prefix("kafkadata:"))
        .expect("compose's broker keeps its data in the kafkadata volume")
        .to_owned();
    let env = &kafka["environment"];
    check("compose", &data, &|name| match &env[name] {
        Value::String(value) => Some(value.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    });
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
        "dependency_up",
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
