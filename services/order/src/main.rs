#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::service::main("order", order::Settings::from_env, order::build).await
}
