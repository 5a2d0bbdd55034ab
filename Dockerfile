# syntax=docker/dockerfile:1
# One image for every operator: `docker run IMAGE run --operator images` (Kubernetes passes the args).
# Debian slim (glibc) so sharp's prebuilt libvips binaries work; jemalloc replaces glibc's allocator, which
# fragments under long-running multi-threaded image work (sharp's install notes recommend it on glibc).
# Base pinned to an exact Node release; bump NODE_VERSION deliberately.
ARG NODE_VERSION=24.21.0

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The postinstall step patches kafkajs (scripts/kafkajs-patch/), so it must be here before the install.
COPY scripts/kafkajs-patch ./scripts/kafkajs-patch
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY cli ./cli
COPY runtime ./runtime
COPY operators ./operators
COPY samples ./samples
COPY pipelines ./pipelines
COPY schemas ./schemas
COPY infra ./infra
COPY k8s ./k8s
COPY scripts ./scripts
COPY bench ./bench
COPY test/support ./test/support
RUN npm run build

# Production dependencies only: no compilers, test runners or linters in the runtime image.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY scripts/kafkajs-patch ./scripts/kafkajs-patch
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends libjemalloc2 tini \
  && rm -rf /var/lib/apt/lists/* \
  && ln -s "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" /usr/local/lib/libjemalloc.so.2 \
  && groupadd --system --gid 10001 listflow \
  && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin listflow
ENV NODE_ENV=production \
    LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 \
    LISTFLOW_HTTP_PORT=9400
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
# Data the workers read at run time: normalize's built-in source profiles (found beside dist/).
COPY --from=build --chown=root:root /app/pipelines/profiles ./pipelines/profiles
COPY --chown=root:root package.json ./
# Numeric user, so Kubernetes' runAsNonRoot can verify it; the files above stay root-owned and read-only.
USER 10001:10001
EXPOSE 9400
# tini forwards SIGTERM to node (the worker drains on it) and reaps zombies.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/cli/main.js"]
CMD ["--help"]
