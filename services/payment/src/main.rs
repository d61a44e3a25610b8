#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::service::main("payment", payment::settings, payment::build).await
}
