//! `mealkit up [--wipe] [--replicas order=3,delivery=2] [--brokers 3]`: the whole system, until
//! Ctrl-C.
//! `mealkit infra --env-file FILE`: only Postgres and Kafka (what `./dev test` runs the tests
//! against); writes `DATABASE_URL` and `KAFKA_BROKERS` to FILE once they are up.
//! `mealkit dlq ...`: the dead-letter topic (see [`dlq`]).
//! `mealkit kafka TOOL [ARGS]`: Kafka's own tool against `KAFKA_BROKERS` (default the local
//! stack's, 127.0.0.1:9092), e.g. `mealkit kafka consumer-groups --describe --all-groups`.

mod dlq;

use std::path::PathBuf;
use std::time::Duration;

use platform::kafka::Brokers;
use stack::{Options, SERVICES, Stack};

fn usage() -> ! {
    eprintln!(
        "usage: mealkit up [--wipe] [--replicas SERVICE=N,...] [--brokers 1|3] [--data-dir DIR] [--bin-dir DIR]\n       mealkit infra --env-file FILE [--data-dir DIR]\n       mealkit kafka TOOL [ARGS]   (TOOL: {})\n       {}",
        stack::kafka::TOOLS
            .iter()
            .map(|(name, _, _)| *name)
            .collect::<Vec<_>>()
            .join(", "),
        dlq::usage()
    );
    std::process::exit(2)
}

struct Args {
    command: String,
    wipe: bool,
    data_dir: PathBuf,
    bin_dir: PathBuf,
    env_file: Option<PathBuf>,
    /// `--replicas order=3,delivery=2`.
    replicas: String,
    /// `--brokers 3`.
    brokers: usize,
}

fn parse() -> Args {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_else(|| "up".to_owned());
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_default();
    let mut parsed = Args {
        command,
        wipe: false,
        data_dir: PathBuf::from(".data"),
        bin_dir: exe_dir,
        env_file: None,
        replicas: String::new(),
        brokers: 1,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--wipe" => parsed.wipe = true,
            "--data-dir" => {
                parsed.data_dir = args.next().map(PathBuf::from).unwrap_or_else(|| usage())
            }
            "--bin-dir" => {
                parsed.bin_dir = args.next().map(PathBuf::from).unwrap_or_else(|| usage())
            }
            "--env-file" => parsed.env_file = args.next().map(PathBuf::from),
            "--replicas" => parsed.replicas = args.next().unwrap_or_else(|| usage()),
            "--brokers" => {
                parsed.brokers = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            _ => usage(),
        }
    }
    if let Ok(absolute) = std::path::absolute(&parsed.data_dir) {
        parsed.data_dir = absolute;
    }
    parsed
}

#[tokio::main]
async fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.first().map(String::as_str) == Some("dlq") {
        if let Err(err) = dlq::run(&raw[1..]).await {
            eprintln!("mealkit dlq: {err}");
            std::process::exit(1);
        }
        return;
    }
    if raw.first().map(String::as_str) == Some("kafka") {
        std::process::exit(kafka_tool(&raw[1..]).await);
    }
    let args = parse();
    let result = match args.command.as_str() {
        "up" => up(args).await,
        "infra" => infra(args).await,
        _ => usage(),
    };
    if let Err(err) = result {
        eprintln!("mealkit: {err}");
        std::process::exit(1);
    }
}

async fn up(args: Args) -> anyhow::Result<()> {
    if args.wipe && args.data_dir.exists() {
        eprintln!("==> wiping {}", args.data_dir.display());
        std::fs::remove_dir_all(&args.data_dir)?;
    }
    let mut options = Options::local(args.data_dir.clone(), args.bin_dir);
    options
        .set_replicas_from(&args.replicas)
        .map_err(|e| anyhow::anyhow!("--replicas: {e}"))?;
    options
        .set_brokers(args.brokers)
        .map_err(|e| anyhow::anyhow!("--brokers: {e}"))?;
    let logs = options.logs_dir();
    let mut stack = Stack::start(options).await?;
    println!();
    println!("Meal-kit is up. Everything goes through the gateway:");
    println!(
        "  shop       {}/   (the storefront, in a browser)",
        stack.gateway_url
    );
    println!("  API docs   {}/docs/", stack.gateway_url);
    println!(
        "  gateway    {}   (its /metrics: {}/metrics)",
        stack.gateway_url, stack.gateway_metrics_url
    );
    for (name, _) in SERVICES {
        println!("  {name:<10} {}", stack.replica_urls(name).join(" "));
    }
    println!("  postgres   {}", stack.database_url);
    println!(
        "  kafka      {}   (./dev kafka consumer-groups --describe --all-groups)",
        stack.kafka_brokers
    );
    println!("  logs       {}/<name>.log", logs.display());
    println!("  try        curl {}/products", stack.gateway_url);
    println!(
        "  sign in    curl -s -X POST {}/auth/dev/token -H 'content-type: application/json' \\\n\
         \x20            -d '{{\"role\":\"customer\",\"id\":1}}'   (then -H \"Authorization: Bearer $T\")",
        stack.gateway_url
    );
    println!("Press Ctrl-C to stop (data is kept; `./dev up --wipe` starts afresh).");

    let mut reported = std::collections::HashSet::new();
    let stopped = platform::shutdown::signal();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        for (name, status, log) in stack.exited_services() {
            if reported.insert(name.clone()) {
                eprintln!("==> {name} exited ({status}); see {}", log.display());
            }
        }
    }
    eprintln!("==> stopping");
    stack.stop().await;
    Ok(())
}

async fn infra(args: Args) -> anyhow::Result<()> {
    let env_file = args.env_file.clone().unwrap_or_else(|| usage());
    let mut options = Options::local(args.data_dir, args.bin_dir);
    options.with_services = false;
    // Free ports: the tests' infrastructure must not collide with a running `./dev up`.
    let ports = stack::free_ports(3)?;
    options.postgres_port = ports[0];
    options.broker_ports[0] = stack::kafka::BrokerPorts {
        client: ports[1],
        controller: ports[2],
    };
    let mut stack = Stack::start(options).await?;
    stack::write_private(
        &env_file,
        &format!(
            "export DATABASE_URL={}\n{}",
            stack.database_url,
            kafka_exports(&stack.kafka_brokers)
        ),
    )?;
    platform::shutdown::signal().await;
    stack.stop().await;
    Ok(())
}

/// The lines of an env file that point a client at `brokers`, signed in as they are.
fn kafka_exports(brokers: &Brokers) -> String {
    brokers
        .env()
        .into_iter()
        .map(|(name, value)| format!("export {name}={value}\n"))
        .collect()
}

/// `mealkit kafka TOOL [ARGS]`: runs Kafka's tool against `KAFKA_BROKERS` (the local stack's by
/// default), signed in as `KAFKA_USERNAME`, or as the local stack's administrator
/// (`.data/kafka/admin.properties`); its exit code.
async fn kafka_tool(args: &[String]) -> i32 {
    let Some((tool, args)) = args.split_first() else {
        usage()
    };
    let local = format!("127.0.0.1:{}", stack::BROKER_PORT);
    let brokers = match Brokers::from_env(&local) {
        Ok(brokers) => brokers,
        Err(e) => {
            eprintln!("mealkit kafka: {e}");
            return 2;
        }
    };
    // Signed in as KAFKA_USERNAME says, through a file of our own (a new, unguessable name,
    // made private and exclusively) removed afterwards.
    let made =
        std::env::temp_dir().join(format!("mealkit-kafka-{}.properties", uuid::Uuid::new_v4()));
    let sign_in = match &brokers.sasl {
        Some(_) => {
            if let Err(e) = create_private(&made, &brokers.client_properties()) {
                eprintln!("mealkit kafka: writing {}: {e}", made.display());
                return 1;
            }
            Some(made.clone())
        }
        None => Some(PathBuf::from(".data/kafka/admin.properties")).filter(|f| f.is_file()),
    };
    let code = run_tool(tool, args, &brokers, sign_in.as_deref()).await;
    let _ = std::fs::remove_file(&made);
    code
}

/// Writes `text` to a new `file` (never one that exists, nor through a link), private to its
/// owner.
fn create_private(file: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)?
        .write_all(text.as_bytes())
}

async fn run_tool(
    tool: &str,
    args: &[String],
    brokers: &Brokers,
    sign_in: Option<&std::path::Path>,
) -> i32 {
    let command = stack::kafka::libs_dir()
        .map_err(|e| e.to_string())
        .and_then(|libs| {
            stack::kafka::tool_command(&libs, tool, args, &brokers.bootstrap, sign_in)
        });
    match command {
        Ok(mut command) => match command.status().await {
            Ok(status) => status.code().unwrap_or(1),
            Err(e) => {
                eprintln!("mealkit kafka: running java: {e}");
                1
            }
        },
        Err(e) => {
            eprintln!("mealkit kafka: {e}");
            2
        }
    }
}
