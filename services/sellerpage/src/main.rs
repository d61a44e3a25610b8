#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::service::main(
        "sellerpage",
        sellerpage::Settings::from_env,
        sellerpage::build,
    )
    .await
}
