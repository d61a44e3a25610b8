#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::service::main("sellerpage", sellerpage::settings, sellerpage::build).await
}
