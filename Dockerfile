# syntax=docker/dockerfile:1
# darkroom production image: one image, every role (`start`, `serve`, `process`, `simulate`, `tail`,
# `topics`, `sql`) chosen by the command. TypeScript runs through tsx, which is why tsx is a runtime
# dependency and there is no build stage for the sources: the only thing worth building apart is
# node_modules (native prebuilds of lmdb and chdb), so the final image carries no npm cache or dev tools.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- dependencies: production node_modules only ------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The lock is written on a machine whose registry serves only linux-x64 builds of the optional native
# packages (chdb, msgpackr-extract), so `npm ci` may refuse it as out of sync on other registries.
# Only for that refusal, install the same locked versions with `npm install --no-save` (as .ci/run does).
RUN if ! npm ci --omit=dev --no-audit --no-fund --loglevel=error 2>/tmp/npm-ci.err; then \
      grep -q 'can only install packages when your package.json and package-lock.json' /tmp/npm-ci.err \
        || { cat /tmp/npm-ci.err >&2; exit 1; }; \
      npm install --omit=dev --no-save --no-audit --no-fund --loglevel=error; \
    fi \
 && npm cache clean --force

# ---- runtime -----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    DARKROOM_DATA_DIR=/data \
    PORT=8080
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY cli ./cli
COPY schemas ./schemas
COPY topics ./topics
COPY processors ./processors
COPY sinks ./sinks
COPY serving ./serving
COPY simulator ./simulator
# Embedded mode keeps everything under DARKROOM_DATA_DIR (a volume); the `node` user (uid 1000) of the
# base image owns it, and nothing under /app is writable at run time.
RUN mkdir -p /data && chown node:node /data \
 && ln -s /app/cli/bin.mjs /usr/local/bin/darkroom
USER node
VOLUME ["/data"]
EXPOSE 8080
# /healthz answers 200 once every processor has restored its state (503 before): a container is
# healthy when it serves current views. Node's fetch, because the slim image has no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["darkroom"]
CMD ["start"]
