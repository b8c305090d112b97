# syntax=docker/dockerfile:1
#
# Speedometer: one image holding the server and the built dashboard.
#   docker build -t speedometer .
#   docker run -p 8765:8765 -e DATABASE_URL=mysql://user:pass@host:3306/speedometer speedometer
# docker-compose.yml starts it together with MariaDB.

ARG RUST_VERSION=1.95
ARG NODE_VERSION=22

# ---- dashboard: frontend/ -> frontend/dist ---------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS dashboard
WORKDIR /build/frontend
# Dependencies first, so that a source change does not re-run npm ci.
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# ---- server: the speedometer binary -----------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-bookworm AS server
# mysqlclient-sys links libmariadb, found through pkg-config. (Debian package versions are left
# to the base image's release: pinning them breaks the build at the next security update.)
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# Compile the dependencies against placeholder sources, so this layer is reused until
# Cargo.toml or Cargo.lock changes.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked --bin speedometer \
 && rm -rf src
# The real sources; migrations are embedded into the binary at compile time. Touching the crate
# roots makes cargo rebuild the crate that the placeholder build left behind.
COPY src ./src
COPY migrations ./migrations
RUN touch src/lib.rs src/main.rs \
 && cargo build --release --locked --bin speedometer

# ---- runtime ----------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# libmariadb3: the client library the binary links; ca-certificates: TLS to the database;
# tzdata: so that TZ names the zone used for readings that carry only a time of day.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb3 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 speedometer \
 && useradd --system --uid 10001 --gid speedometer --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin speedometer
WORKDIR /app
COPY --from=server /build/target/release/speedometer /usr/local/bin/speedometer
COPY --from=dashboard /build/frontend/dist /app/frontend/dist

# Every setting is an environment variable (README / SPEC section 6); these two differ from the
# binary's defaults because it runs in a container.
ENV SPEEDOMETER_BIND=0.0.0.0:8765 \
    STATIC_DIR=/app/frontend/dist

USER 10001:10001
EXPOSE 8765
# SIGTERM: stop accepting, close sessions with 1001, finish pending writes, exit 0.
STOPSIGNAL SIGTERM
# Liveness without curl: bash's /dev/tcp speaks just enough HTTP. The port is taken from
# SPEEDOMETER_BIND. docker-compose.yml checks /readyz (database reachable) instead.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "bind=${SPEEDOMETER_BIND:-127.0.0.1:8765}; exec 3<>/dev/tcp/127.0.0.1/${bind##*:} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && read -r -t 4 _ code _ <&3 && [[ $code == 200 ]]"]

ENTRYPOINT ["/usr/local/bin/speedometer"]
