# shardgate as a container image: the `deno compile` binary on Debian slim.
#
#   docker build -t shardgate .
#   docker run --rm --network host \
#     -v /etc/shardgate:/etc/shardgate:ro -e REDIS_AUTH shardgate
#
# shardgate is a loopback sidecar: by default only loopback listen addresses
# are accepted, and inside a container the loopback is the container's own.
# Either run it with host networking (as above; the app on the host uses the
# loopback ports as usual), or share the app's network namespace (a sidecar
# in the same pod / task), or listen on 0.0.0.0 with `allow_remote: true` in
# the shard and publish the ports (-p 127.0.0.1:6400:6400 ...). No port is
# EXPOSEd by default: they are whatever the config says.
#
# The build downloads Deno's `denort` runtime (deno compile does, on first
# use). Where that is not possible, put a denort binary of the same Deno
# version (package.json) into the build context and pass its path:
#   docker build --build-arg DENORT_BIN=/src/denort -t shardgate .

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Installs Deno (the `deno` devDependency) and the npm packages.
RUN npm ci --no-audit --no-fund
COPY . .
ARG DENORT_BIN=
# Builds dist/shardgate and runs it once (--version, check) as a smoke test.
RUN DENORT_BIN="${DENORT_BIN}" npm run compile

FROM debian:bookworm-slim
# TLS certificates are checked against Deno's built-in root store; for a
# private CA, mount its PEM file and point tls.ca_file at it.
RUN useradd --system --uid 10001 --user-group --no-create-home \
    --home-dir /nonexistent --shell /usr/sbin/nologin shardgate \
  && mkdir -p /etc/shardgate
COPY --from=build /src/dist/shardgate /usr/local/bin/shardgate
USER shardgate
# `docker kill --signal HUP <container>` reloads the config (so does a change
# the file watcher sees). SIGTERM (docker stop) lets in-flight replies finish
# for up to 1 s, then exits 0.
ENTRYPOINT ["/usr/local/bin/shardgate"]
CMD ["run", "--config", "/etc/shardgate/shardgate.yaml"]
