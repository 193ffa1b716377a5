# MeshKV: one Dockerfile, two images.
#   runtime (the default): the database node, and the load balancer with
#     `node packages/load-balancer/dist/main.js`
#   tests: the integration suite (default command) and the stress tool (`npm run stress`)
#
#   docker build -t meshkv .                                   (official Node 20 image)
#   docker build --target tests -t meshkv-tests .
#   docker build --build-arg NODE_IMAGE=meshkv-node-base:local \
#     --build-arg COMPILER_IMAGE=meshkv-compiler:local -t meshkv .   (no registry:
#     scripts/docker/node-base-image.sh and compiler-image.sh make those from this machine)
ARG NODE_IMAGE=node:20-bookworm-slim
# Any image with `cc` and `sh` whose C library matches NODE_IMAGE's: it only compiles the
# load balancer's native pump. Without a compiler there the balancer moves bytes in
# JavaScript (docs/load-balancer.md).
ARG COMPILER_IMAGE=node:20-bookworm

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages/common/package.json packages/common/
COPY packages/client/package.json packages/client/
COPY packages/database/package.json packages/database/
COPY packages/load-balancer/package.json packages/load-balancer/
COPY packages/cli/package.json packages/cli/
COPY packages/tests/package.json packages/tests/
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY packages packages
RUN NATIVE_PUMP_STAGE=1 npm run build --workspaces && npx tsc -p packages/tests/tsconfig.test.json

# The test tools, with their development dependencies (mocha, chai). Pointed at the
# balancer of the Compose project by default.
FROM ${NODE_IMAGE} AS tests
COPY --from=build --chown=1000:1000 /app /app
WORKDIR /app/packages/tests
USER 1000
ENV HOME=/tmp NPM_CONFIG_UPDATE_NOTIFIER=false SERVICE_URL=http://load-balancer:8080
CMD ["node", "/app/node_modules/mocha/bin/mocha.js", "--config", ".mocharc.integration.json"]

# The native pump: built by `npm run build` above when NODE_IMAGE has a compiler, else
# here, with the same command as packages/load-balancer/scripts/build-native.js.
FROM ${COMPILER_IMAGE} AS pump
WORKDIR /pump
COPY --from=build /app/node_modules/node-api-headers/include include
COPY --from=build /app/packages/load-balancer/dist/native out
COPY packages/load-balancer/native/pump.c .
RUN if test -f out/pump.node; then echo "native pump: already built in the build stage (NODE_IMAGE has a compiler)"; \
    elif command -v cc > /dev/null; then cc -O2 -Wall -Wextra -shared -fPIC -I include -o out/pump.node pump.c -lpthread && echo "native pump: built in the pump stage (COMPILER_IMAGE)"; \
    else echo "native pump: not built (no C compiler in COMPILER_IMAGE either): the balancer will move bytes in JavaScript"; fi

FROM build AS production
# Production dependencies only; of each package keep package.json, dist, bin (the meshkv
# command), ui (the cluster page's files) and its own node_modules (versions that differ
# from the root's). The base image may have no rm.
RUN npm prune --omit=dev --no-audit --no-fund \
 && node -e "const fs=require('fs');for(const p of fs.readdirSync('packages'))for(const d of fs.readdirSync('packages/'+p))if(!['dist','bin','ui','node_modules','package.json'].includes(d))fs.rmSync('packages/'+p+'/'+d,{recursive:true,force:true})"

FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production
# `meshkv` (packages/cli) on the PATH: docker compose exec database meshkv cluster
ENV PATH=/app/node_modules/.bin:$PATH
COPY --from=production /app/package.json ./
COPY --from=production /app/node_modules node_modules
COPY --from=production /app/packages packages
COPY --from=pump /pump/out packages/load-balancer/dist/native
# The data folder of STORAGE=lmdb, owned by the user the node runs as (a new volume
# mounted there takes this owner).
RUN node -e "require('fs').mkdirSync('/data',{recursive:true});require('fs').chownSync('/data',1000,1000)"
USER 1000
EXPOSE 8100
# No curl or wget needed: Node asks the node's own /healthcheck (http.get: it starts in
# half the time of fetch). Unhealthy after 3 failed checks 10 s apart, each allowed 10 s.
HEALTHCHECK --interval=10s --timeout=10s --start-period=20s --retries=3 \
  CMD ["node", "-e", "require('http').get({host:'127.0.0.1',port:process.env.PORT||8100,path:'/healthcheck',timeout:9000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]
# SIGTERM is handled by the node itself (drain, then exit); Compose adds an init too.
CMD ["node", "--min-semi-space-size=16", "packages/database/dist/main.js"]
