#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::service::main("marketing", marketing::settings, marketing::build).await
}
