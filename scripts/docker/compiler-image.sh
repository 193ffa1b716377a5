#!/bin/sh
# Builds a Docker image with a C compiler from this machine's own Debian packages: gcc,
# the C library for development, a shell, and every installed package they depend on.
# The Dockerfile uses such an image only to compile the load balancer's native pump
# (COMPILER_IMAGE, default node:20-bookworm); this is for machines that cannot pull that
# image from a registry. The pump it compiles must run on the runtime image's C library:
# make it on a machine of the same Debian release as NODE_IMAGE.
#
#   scripts/docker/compiler-image.sh [tag]      (default tag: meshkv-compiler:local)
set -eu
TAG=${1:-meshkv-compiler:local}
if ! command -v dpkg-query > /dev/null || ! command -v apt-cache > /dev/null; then
  echo "compiler-image.sh: needs a Debian-like machine (dpkg-query, apt-cache)" >&2
  exit 1
fi
if ! dpkg-query -W gcc libc6-dev > /dev/null 2>&1; then
  echo "compiler-image.sh: gcc and libc6-dev are not installed (apt-get install gcc libc6-dev)" >&2
  exit 1
fi
STAGE=$(mktemp -d)
LIST=$(mktemp)
TAR=$(mktemp)
trap 'rm -rf "$STAGE" "$LIST" "$TAR"' EXIT

# Installed packages only: a dependency that is not installed was satisfied otherwise.
wanted=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances gcc libc6-dev dash | grep -v -e '^ ' -e '^<' | sort -u)
# shellcheck disable=SC2086 # one argument per package
installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package}\n' $wanted 2> /dev/null | awk '$1 == "ii" { print $2 }')

# On a merged-/usr machine /bin, /lib... are links into /usr: list each file under /usr
# once, and give the image the same links.
tops=""
for top in bin sbin lib lib64; do
  if [ -L "/$top" ]; then
    ln -s "$(readlink "/$top")" "$STAGE/$top"
    tops="$tops $top"
  fi
done
# shellcheck disable=SC2086
dpkg-query -L $installed | sort -u | while read -r file; do
  for top in $tops; do
    case "$file" in "/$top" | "/$top/"*) file="/usr$file" ;; esac
  done
  [ -e "$file" ] || [ -L "$file" ] || continue
  [ -d "$file" ] && [ ! -L "$file" ] && continue
  printf '%s\n' "${file#/}"
done | sort -u > "$LIST"

# `cc` is an alternative set up by a maintainer script, not a packaged file; gcc writes
# its temporary files to /tmp.
mkdir -p "$STAGE/usr/bin" "$STAGE/tmp"
chmod 1777 "$STAGE/tmp"
ln -s gcc "$STAGE/usr/bin/cc"

# shellcheck disable=SC2086
tar -C "$STAGE" -c -f "$TAR" $tops usr/bin/cc tmp
tar -C / -r -f "$TAR" -T "$LIST"
docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'WORKDIR /tmp' \
  --change 'CMD ["cc", "--version"]' \
  "$TAR" "$TAG" > /dev/null
echo "$TAG ($(gcc -dumpfullversion), $(wc -l < "$LIST") files)"
