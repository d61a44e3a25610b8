# One image, every binary: the six services, the gateway, and `probe` for healthchecks.
# Kubernetes and compose pick the service by command (`/app/order`, `/app/gateway`, ...).
# One image because the services share almost all their code and dependencies: one build, one
# push, layers shared on every node; a per-service image would repeat ~all of it seven times.
#
#   docker build -t mealkit:dev .

# Dependencies are planned from the manifests alone and built in their own layer, so a change
# to our sources rebuilds only our crates. Both builds are --locked: exactly Cargo.lock's
# versions, or the build fails (never a silently resolved newer dependency).
#
# Base images are tags, not yet digests. To pin them, resolve each tag once and append its
# digest (FROM <image>:<tag>@sha256:<digest>), then bump it deliberately:
#   docker buildx imagetools inspect rust:1.95-bookworm --format '{{json .Manifest.Digest}}'
#   docker buildx imagetools inspect gcr.io/distroless/cc-debian12:nonroot --format '{{json .Manifest.Digest}}'
FROM rust:1.95-bookworm AS chef
RUN cargo install cargo-chef --version 0.1.78 --locked
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bins \
 && mkdir -p /app \
 && cp target/release/product target/release/order target/release/payment \
       target/release/delivery target/release/marketing target/release/sellerpage \
       target/release/gateway target/release/probe /app/ \
 && mkdir -p /state/var/lib/mealkit

# glibc and libgcc, nothing else: no shell, no package manager; runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /app/ /app/
# Where the gateway's dev issuer keeps its key (a volume in Compose, an emptyDir on kind).
COPY --from=builder --chown=65532:65532 /state/var/lib/mealkit /var/lib/mealkit
ENV PORT=8080 LOG_FORMAT=json
EXPOSE 8080
USER 65532:65532
ENTRYPOINT []
CMD ["/app/gateway"]
