#!/usr/bin/env bash
# Builds (or takes) the tarball for a Pi's architecture, copies it there and installs it.
#
#   deploy/push.sh user@host [--tarball FILE] [--node-major N] [--ssh-opt OPT]...
#
# The user needs sudo on the Pi (it asks for the password on the terminal if it must).
# The architecture is that of the Pi's node (process.arch) when Node is installed, else that of
# its userland (dpkg --print-architecture), else `uname -m`: a 32-bit Raspberry Pi OS on a
# Pi 4/5 reports aarch64 from its 64-bit kernel but needs the armhf tarball.
set -euo pipefail

die() { echo "push.sh: error: $*" >&2; exit 1; }
say() { echo "push.sh: $*" >&2; }

repo=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target="" tarball="" node_major=20 ssh_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tarball) tarball=${2:?--tarball needs a file}; shift 2 ;;
    --node-major) node_major=${2:?--node-major needs a value}; shift 2 ;;
    --ssh-opt) ssh_opts+=(-o "${2:?--ssh-opt needs an option}"); shift 2 ;;
    -h|--help) sed -n '4,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) die "unknown option '$1'" ;;
    *) [ -z "$target" ] || die "one host only (got '$target' and '$1')"; target=$1; shift ;;
  esac
done
[ -n "$target" ] || die "usage: deploy/push.sh user@host [--tarball FILE] [--node-major N]"

say "detecting the architecture of $target"
probe=$(ssh "${ssh_opts[@]}" "$target" 'echo "uname=$(uname -m)"; echo "dpkg=$(dpkg --print-architecture 2>/dev/null)"; echo "node=$(node -p process.arch 2>/dev/null)"') \
  || die "ssh $target failed"
uname_m=$(sed -n 's/^uname=//p' <<<"$probe")
dpkg_arch=$(sed -n 's/^dpkg=//p' <<<"$probe")
node_arch=$(sed -n 's/^node=//p' <<<"$probe")
[ "$uname_m" != armv6l ] || die "$target is an ARMv6 board (Raspberry Pi 1 / Zero / Zero W): official Node 20 needs ARMv7 or later (Pi 2 v1.1+, Zero 2 W, Pi 3/4/5); pinetd cannot run there"
case "${node_arch:-${dpkg_arch:-$uname_m}}" in
  arm64|aarch64) arch=arm64 ;;
  arm|armhf|armv7l) arch=armhf ;;
  x64|amd64|x86_64) arch=x64 ;;
  *) die "unsupported architecture on $target: uname -m=$uname_m, dpkg=$dpkg_arch, node=$node_arch" ;;
esac
say "$target: uname -m=$uname_m, userland=${dpkg_arch:-?}, node=${node_arch:-not installed} -> $arch"

if [ -z "$tarball" ]; then
  tarball=$("$repo/deploy/build.sh" --arch "$arch" --node-major "$node_major" | tail -n1)
fi
[ -f "$tarball" ] || die "no tarball at $tarball"
case "$(basename "$tarball")" in
  *-linux-"$arch".tar.gz) ;;
  *) die "$tarball is not for $arch (expected a file named pinetd-<version>-linux-$arch.tar.gz)" ;;
esac

remote_tgz="/tmp/$(basename "$tarball")"
say "copying $(basename "$tarball") to $target:$remote_tgz"
scp -q "${ssh_opts[@]}" "$tarball" "$target:$remote_tgz" || die "scp to $target failed"

say "installing on $target (sudo)"
# shellcheck disable=SC2016 # expanded on the Pi
remote_cmd='set -e; d=$(mktemp -d); trap "rm -rf \"$d\" \"$t\"" EXIT; tar -xzf "$t" -C "$d"; sudo "$d"/pinetd-*/install.sh'
ssh -t "${ssh_opts[@]}" "$target" "t=$(printf %q "$remote_tgz"); $remote_cmd" \
  || die "install on $target failed (see the output above)"
say "status on $target:"
ssh "${ssh_opts[@]}" "$target" 'systemctl --no-pager status pinetd' || true
