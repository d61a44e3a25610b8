#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::service::main("product", product::settings, product::build).await
}
