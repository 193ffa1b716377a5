#!/bin/sh
# The first step of the Compose quick start: makes sure the two base images the build
# needs are there. Each default image (node:20-bookworm-slim to run, node:20-bookworm to
# compile the balancer's native pump) is pulled when a registry answers; when none does,
# it is built from this machine instead (node-base-image.sh, compiler-image.sh) and its
# tag is written to .env (NODE_IMAGE, COMPILER_IMAGE), which Compose reads. Run it again
# at any time: what is there already is kept.
#
#   scripts/docker/prepare.sh
set -eu
cd "$(dirname "$0")/../.."
HERE=scripts/docker

# The value .env gives NAME, if any.
env_value() {
  [ -f .env ] && sed -n "s/^$1=//p" .env | tail -n 1 || true
}

# ensure NAME DEFAULT LOCAL_TAG SCRIPT: the image for NAME is there at the end.
ensure() {
  name=$1 default=$2 local_tag=$3 script=$4
  chosen=$(env_value "$name")
  if [ -n "$chosen" ] && docker image inspect "$chosen" > /dev/null 2>&1; then
    echo "$name: $chosen (from .env, present)"
    return
  fi
  if docker image inspect "$default" > /dev/null 2>&1 || timeout 60 docker pull -q "$default" > /dev/null 2>&1; then
    echo "$name: $default (pulled)"
    return
  fi
  echo "$name: $default cannot be pulled (no registry answers): building $local_tag from this machine"
  "$HERE/$script" "$local_tag"
  [ "$chosen" = "$local_tag" ] && return
  if [ -n "$chosen" ] && [ "$chosen" != "$default" ]; then
    echo "note: .env sets $name=$chosen, which is not there; set it to $local_tag" >&2
    exit 1
  fi
  if [ -f .env ] && grep -q "^$name=" .env; then
    sed -i "s|^$name=.*|$name=$local_tag|" .env
  else
    printf '%s=%s\n' "$name" "$local_tag" >> .env
  fi
  echo "$name=$local_tag written to .env"
}

docker info > /dev/null 2>&1 || { echo "no Docker engine answers (is dockerd running? are you in the docker group?)" >&2; exit 1; }
ensure NODE_IMAGE node:20-bookworm-slim meshkv-node-base:local node-base-image.sh
ensure COMPILER_IMAGE node:20-bookworm meshkv-compiler:local compiler-image.sh
echo "ready: docker compose up -d --build"
