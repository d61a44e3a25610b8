#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::service::main("delivery", delivery::settings, delivery::build).await
}
