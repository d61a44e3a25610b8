#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::service::main("product", product::Settings::from_env, product::build).await
}
