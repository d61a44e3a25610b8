#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::service::main("marketing", marketing::Settings::from_env, marketing::build).await
}
