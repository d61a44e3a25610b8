#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::service::main("payment", payment::Settings::from_env, payment::build).await
}
