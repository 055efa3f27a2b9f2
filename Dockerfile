# pooldns container image: built with the locked dependencies, run as a
# non-root user on a slim Debian base.
#
#   docker build -t pooldns .
#   docker run -p 53:5300/udp -p 53:5300/tcp -p 8081:8081 pooldns
#
# In the image pooldns listens on 0.0.0.0:5300 (DNS) and 0.0.0.0:8081 (API)
# and keeps its store in /var/lib/pooldns (a volume).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin pooldns \
    && install -D -m 0755 target/release/pooldns /out/pooldns

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libcap2-bin \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/pooldns /usr/local/bin/pooldns
# Port 53 inside the container needs only this capability, not root.
RUN setcap cap_net_bind_service=+ep /usr/local/bin/pooldns \
    && groupadd --system --gid 65532 pooldns \
    && useradd --system --uid 65532 --gid pooldns --home-dir /var/lib/pooldns --shell /usr/sbin/nologin pooldns \
    && install -d -o pooldns -g pooldns -m 0750 /var/lib/pooldns /etc/pooldns
USER 65532:65532
WORKDIR /var/lib/pooldns
ENV POOLDNS_DNS_LISTEN=0.0.0.0:5300 \
    POOLDNS_API_LISTEN=0.0.0.0:8081 \
    POOLDNS_STORE_URL=sqlite:///var/lib/pooldns/pooldns.db
VOLUME /var/lib/pooldns
EXPOSE 5300/udp 5300/tcp 8081/tcp
ENTRYPOINT ["/usr/local/bin/pooldns"]
CMD ["serve"]
