#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::service::main("delivery", delivery::Settings::from_env, delivery::build).await
}
