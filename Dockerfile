# syntax=docker/dockerfile:1
# The lookaside LB server as a container image:
#   docker build -t lookaside .
#   docker run --rm -e ETCD_ENDPOINTS=http://etcd:2379 -p 7000:7000 -p 7001:7001 -p 9100:9100 lookaside
# Stage "build" compiles the TypeScript; stage "runtime" holds dist/ and the packages the server
# runs with (npm ci --omit=dev), nothing else, and runs as an unprivileged user.
# Kubernetes manifests using this image: deploy/kubernetes/. test/e2e/deploy-files.test.ts checks
# that the command below is one the CLI accepts.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts are needed (protobufjs' only prints a version hint).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/copy-protos.js scripts/copy-console-assets.js scripts/
COPY common common
COPY proto proto
COPY etcd etcd
COPY lb-server lb-server
COPY client-sdk client-sdk
COPY registrar registrar
COPY demo-service demo-service
COPY cli cli
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist dist
# The image's "node" user, by number so that Kubernetes' runAsNonRoot can verify it. The files
# stay root-owned: the server only reads them.
USER 1000:1000
# 7000: gRPC (lookaside.v1, xDS, grpclb, Admin, health, reflection; TLS when configured)
# 7001: grpc.health.v1 alone, always plaintext, for probes   9100: GET /metrics
EXPOSE 7000 7001 9100
ENTRYPOINT ["node", "/app/dist/cli/lookaside.js"]
# Everything else from the environment: ETCD_ENDPOINTS (required), LOOKASIDE_TLS_CERT, ETCD_CA, ...
CMD ["lb-server", "--listen", "0.0.0.0:7000", "--health-listen", "0.0.0.0:7001", "--metrics-listen", "0.0.0.0:9100"]
