#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::service::main("gateway", gateway::Settings::from_env, gateway::build).await
}
