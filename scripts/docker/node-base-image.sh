#!/bin/sh
# Builds a minimal Docker base image from this machine's own Node.js: the node binary and
# its shared libraries, npm, a POSIX shell (npm runs scripts with sh), and the machine's
# CA store (used through NODE_OPTIONS=--use-openssl-ca, so `npm ci` works inside
# `docker build` wherever the machine's npm works). For machines that cannot pull images
# from a registry; pass the tag to docker build as --build-arg NODE_IMAGE=<tag>.
#
#   scripts/docker/node-base-image.sh [tag]      (default tag: meshkv-node-base:local)
set -eu
TAG=${1:-meshkv-node-base:local}
NODE=$(readlink -f "$(command -v node)")
NPM_CLI=$(readlink -f "$(command -v npm)")
NPM_DIR=$(dirname "$(dirname "$NPM_CLI")")
SHELL_BIN=$(readlink -f /bin/sh)
ENV_BIN=$(readlink -f "$(command -v env)")
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT

mkdir -p "$ROOT/usr/local/bin" "$ROOT/usr/local/lib/node_modules" "$ROOT/bin" "$ROOT/etc/ssl/certs" "$ROOT/tmp" "$ROOT/app"
chmod 1777 "$ROOT/tmp"
cp "$NODE" "$ROOT/usr/local/bin/node"
cp -a "$NPM_DIR" "$ROOT/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
cp "$SHELL_BIN" "$ROOT/bin/sh"
# Scripts in node_modules/.bin start with #!/usr/bin/env node.
mkdir -p "$ROOT/usr/bin"
cp "$ENV_BIN" "$ROOT/usr/bin/env"
for bin in "$NODE" "$SHELL_BIN" "$ENV_BIN"; do
  for lib in $(ldd "$bin" | grep -o '/[^ )]*'); do
    mkdir -p "$ROOT$(dirname "$lib")"
    cp -L "$lib" "$ROOT$lib"
  done
done
cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/app:/bin/sh\n' > "$ROOT/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\n' > "$ROOT/etc/group"
printf 'hosts: files dns\n' > "$ROOT/etc/nsswitch.conf"

tar -C "$ROOT" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV NODE_OPTIONS=--use-openssl-ca' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'WORKDIR /app' \
  --change 'CMD ["node"]' \
  - "$TAG" > /dev/null
echo "$TAG ($(node --version))"
