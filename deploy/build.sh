#!/usr/bin/env bash
# Builds the deployable tarballs pinetd-<version>-linux-<arch>.tar.gz on a Linux x86-64 (or
# arm64) machine, cross-compiling native addons for the Raspberry Pi. See deploy/README.md.
#
#   deploy/build.sh [--arch arm64|armhf|x64|all] [--node-major N] [--out DIR]
#
#   --arch        target(s), default all (arm64: 64-bit Raspberry Pi OS; armhf: 32-bit)
#   --node-major  Node major the Pi runs (default 20); addons are built against its headers
#                 and only load in a node of the same major (NODE_MODULE_VERSION)
#   --out         output dir (default <repo>/out)
#
# Environment: PINETD_CACHE_DIR (node headers cache, default ~/.cache/pinetd-deploy),
# PINETD_MAX_GLIBC (highest glibc a .node may need, default 2.36 = Raspberry Pi OS bookworm),
# SOURCE_DATE_EPOCH (file times in the tarball, default the last commit's time).
set -euo pipefail

die() { echo "build.sh: error: $*" >&2; exit 1; }
say() { echo "build.sh: $*" >&2; }
usage() { sed -n '5,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

repo=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
arch_arg=all node_major=20 out="$repo/out"
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch_arg=${2:?--arch needs a value}; shift 2 ;;
    --arch=*) arch_arg=${1#*=}; shift ;;
    --node-major) node_major=${2:?--node-major needs a value}; shift 2 ;;
    --node-major=*) node_major=${1#*=}; shift ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
case "$arch_arg" in
  all) arches=(arm64 armhf x64) ;;
  arm64|armhf|x64) arches=("$arch_arg") ;;
  *) die "--arch must be arm64, armhf, x64 or all (got '$arch_arg')" ;;
esac
[[ "$node_major" =~ ^[0-9]+$ ]] || die "--node-major must be a number (got '$node_major')"
max_glibc=${PINETD_MAX_GLIBC:-2.36}

# Per target: GNU triplet, node-gyp --arch, npm --cpu, expected `file` output.
triplet_of() { case "$1" in arm64) echo aarch64-linux-gnu ;; armhf) echo arm-linux-gnueabihf ;; x64) echo x86_64-linux-gnu ;; esac; }
gyp_arch_of() { case "$1" in arm64) echo arm64 ;; armhf) echo arm ;; x64) echo x64 ;; esac; }
file_re_of() {
  case "$1" in
    arm64) echo 'ELF 64-bit LSB shared object, ARM aarch64' ;;
    armhf) echo 'ELF 32-bit LSB shared object, ARM, EABI5' ;;
    x64) echo 'ELF 64-bit LSB shared object, x86-64' ;;
  esac
}
case "$(uname -m)" in
  x86_64) host_triplet=x86_64-linux-gnu ;;
  aarch64|arm64) host_triplet=aarch64-linux-gnu ;;
  *) host_triplet=unknown ;;
esac
[ "$(uname -s)" = Linux ] || die "this script needs Linux with Debian's cross compilers; on macOS run it in a container (see deploy/README.md)"

# ---- preflight: everything missing is reported at once, with the Debian package to install
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 (Debian package: $2)"); }
need node nodejs; need npm npm; need make make; need python3 python3
need file file; need tar tar; need gzip gzip; need sha256sum coreutils
for a in "${arches[@]}"; do
  t=$(triplet_of "$a")
  if [ "$t" = "$host_triplet" ]; then pkg=g++; else pkg="g++-${t//_/-}"; fi
  need "$t-gcc" "$pkg"; need "$t-g++" "$pkg"; need "$t-objdump" "binutils-${t//_/-}"; need "$t-readelf" "binutils-${t//_/-}"
done
if [ ${#missing[@]} -gt 0 ]; then
  printf 'build.sh: error: missing tools:\n' >&2
  printf '  %s\n' "${missing[@]}" >&2
  die "install them, e.g. sudo apt-get install $(printf '%s\n' "${missing[@]}" | sed 's/.*package: \(.*\))/\1/' | sort -u | tr '\n' ' ')"
fi
for f in package.json package-lock.json systemd/pinetd.service systemd/config.example.json deploy/pinetd.avahi.service deploy/install.sh; do
  [ -f "$repo/$f" ] || die "$repo/$f is missing; it goes into the tarball"
done

version=$(node -p 'require(process.argv[1]).version' "$repo/package.json")
[ -n "$version" ] || die "no version in package.json"
commit=$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null || true)" ]; then commit="$commit-dirty"; fi
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}

# The repo's devDependencies compile TypeScript and run node-gyp.
if [ ! -x "$repo/node_modules/.bin/tsc" ] || [ ! -f "$repo/node_modules/node-gyp/bin/node-gyp.js" ]; then
  say "installing the repo's dependencies (npm ci) for tsc and node-gyp"
  (cd "$repo" && npm ci --no-audit --no-fund)
fi

mkdir -p "$out"
out=$(cd -P "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/pinetd-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---- compile once (what `npm run build` does, into a fresh dir: no stale files from old builds)
say "compiling TypeScript (tsc -p tsconfig.json) and bundling (deploy/bundle.mjs)"
(cd "$repo" && node_modules/.bin/tsc -p tsconfig.json --outDir "$work/dist") || die "tsc failed"
node "$repo/deploy/bundle.mjs" "$work/dist" || die "bundling failed"
[ -f "$work/dist/cli/pinetd.cjs" ] && [ -f "$work/dist/bundle/main.cjs" ] || die "the build produced no dist/cli/pinetd.cjs or dist/bundle/main.cjs"

build_arch() {
  local arch=$1 t gyp_arch name stage headers headers_pkg abi t0 nodes=() addon f desc floor cxx
  t0=$(date +%s)
  t=$(triplet_of "$arch") gyp_arch=$(gyp_arch_of "$arch")
  name="pinetd-$version-linux-$arch"
  stage="$work/$arch/$name"
  mkdir -p "$stage"

  headers=$("$repo/deploy/node-dist.sh" "$arch" "$node_major" --headers)
  headers_pkg="$(node -p 'const p=require(process.argv[1]); p.name+"@"+p.version.replace(/^v/, "")' "$headers/package.json")"
  abi=$(sed -n 's/^#define NODE_MODULE_VERSION \([0-9][0-9]*\).*/\1/p' "$headers/include/node/node_version.h")
  [ -n "$abi" ] || die "cannot read NODE_MODULE_VERSION from $headers"
  say "[$arch] headers $headers_pkg (NODE_MODULE_VERSION $abi)"

  # production dependencies for the target platform, no install scripts (nothing runs on this host)
  # package.json and lock file without devDependencies: npm ci checks the whole lock file against
  # package.json, so dev-only entries (e.g. other platforms' optional build tools) cannot break it
  node -e '
    const fs = require("fs"), [src, dst] = process.argv.slice(1);
    const pkg = JSON.parse(fs.readFileSync(src + "/package.json", "utf8"));
    const lock = JSON.parse(fs.readFileSync(src + "/package-lock.json", "utf8"));
    delete pkg.devDependencies;
    delete lock.packages[""].devDependencies;
    for (const [k, v] of Object.entries(lock.packages)) if (v.dev) delete lock.packages[k];
    fs.writeFileSync(dst + "/package.json", JSON.stringify(pkg, null, 2) + "\n");
    fs.writeFileSync(dst + "/package-lock.json", JSON.stringify(lock, null, 2) + "\n");
  ' "$repo" "$stage"
  say "[$arch] npm ci --omit=dev --ignore-scripts --cpu=$gyp_arch --os=linux --libc=glibc"
  (cd "$stage" && npm ci --omit=dev --ignore-scripts --cpu="$gyp_arch" --os=linux --libc=glibc \
      --no-audit --no-fund --prefer-offline --loglevel=error >&2) || die "[$arch] npm ci failed"

  # cross-compile every addon (a package folder with a binding.gyp)
  while IFS= read -r f; do
    addon=$(dirname "$f")
    [ -f "$addon/package.json" ] || continue
    say "[$arch] node-gyp rebuild ${addon#"$stage"/} with $t-g++"
    (cd "$addon" && env -u npm_config_nodedir -u npm_config_arch -u npm_config_target_arch \
        CC="$t-gcc" CXX="$t-g++" LINK="$t-g++" AR="$t-ar" \
        node "$repo/node_modules/node-gyp/bin/node-gyp.js" rebuild --arch="$gyp_arch" --nodedir="$headers" \
        --jobs=max --loglevel=warn >"$work/gyp-$arch.log" 2>&1) \
      || { cat "$work/gyp-$arch.log" >&2; die "[$arch] node-gyp failed for ${addon#"$stage"/}"; }
    # keep only the .node files where `bindings` looks (build/Release), drop the objects
    mkdir "$work/keep"
    find "$addon/build/Release" -maxdepth 1 -name '*.node' -exec mv {} "$work/keep/" \;
    rm -rf "$addon/build"
    mkdir -p "$addon/build/Release"
    find "$work/keep" -name '*.node' -exec mv {} "$addon/build/Release/" \;
    rmdir "$work/keep"
  done < <(find "$stage/node_modules" -name binding.gyp -not -path '*/test/*' | sort)

  # every .node must be an ELF for the target (prebuilds for other platforms are left alone)
  while IFS= read -r f; do
    case "$f" in */prebuilds/*) case "$f" in */prebuilds/linux-"$gyp_arch"*) ;; *) continue ;; esac ;; esac
    nodes+=("$f")
  done < <(find "$stage/node_modules" -name '*.node' | sort)
  for f in "${nodes[@]}"; do
    desc=$(file -b "$f")
    [[ "$desc" == "$(file_re_of "$arch")"* ]] || die "[$arch] ${f#"$stage"/} is not a $arch binary: $desc"
    if [ "$arch" = armhf ]; then
      "$t-readelf" -h "$f" | grep -q 'hard-float ABI' || die "[$arch] ${f#"$stage"/} is not hard-float (armhf)"
    fi
    floor=$("$t-objdump" -T "$f" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n1)
    cxx=$("$t-objdump" -T "$f" | grep -o 'GLIBCXX_[0-9][0-9.]*' | sed 's/GLIBCXX_//' | sort -V | tail -n1 || true)
    say "[$arch] ${f#"$stage"/}: $desc"
    say "[$arch] ${f#"$stage"/}: needs GLIBC_${floor:-none}${cxx:+, GLIBCXX_$cxx}"
    if [ -n "$floor" ] && [ "$(printf '%s\n%s\n' "$floor" "$max_glibc" | sort -V | tail -n1)" != "$max_glibc" ]; then
      die "[$arch] ${f#"$stage"/} needs GLIBC_$floor > $max_glibc (PINETD_MAX_GLIBC); build with an older toolchain (Debian bookworm)"
    fi
    [ -z "$floor" ] || [ "$(printf '%s\n%s\n' "$floor" "${glibc_floor:-0}" | sort -V | tail -n1)" = "${glibc_floor:-0}" ] || glibc_floor=$floor
  done
  [ ${#nodes[@]} -gt 0 ] || say "[$arch] warning: no native addons found"

  # the app and what install.sh installs
  # Only what runs: the launcher and the bundle (tsc's per-module output is what the bundle
  # was made from; shipping it would be 1 MB of dead files on the board's SD card).
  mkdir -p "$stage/dist/cli"
  cp "$work/dist/cli/pinetd.cjs" "$stage/dist/cli/"
  cp -r "$work/dist/bundle" "$stage/dist/bundle"
  mkdir -p "$stage/systemd" "$stage/avahi"
  cp "$repo/systemd/pinetd.service" "$repo/systemd/config.example.json" "$stage/systemd/"
  cp "$repo/deploy/pinetd.avahi.service" "$stage/avahi/pinetd.service"
  install -m 0755 "$repo/deploy/install.sh" "$stage/install.sh"
  local build_id
  build_id=$(cd "$stage" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  cat >"$stage/BUILDINFO" <<EOF
PINETD_VERSION=$version
PINETD_ARCH=$arch
NODE_MAJOR=$node_major
NODE_MODULE_VERSION=$abi
NODE_HEADERS=$headers_pkg
GLIBC_FLOOR=${glibc_floor:-none}
GIT_COMMIT=$commit
BUILD_ID=$build_id
EOF

  local tgz="$out/$name.tar.gz"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -C "$work/$arch" -cf - "$name" \
    | gzip -n >"$tgz.tmp.$$"
  mv -f "$tgz.tmp.$$" "$tgz"
  say "[$arch] wrote $tgz ($(du -h "$tgz" | cut -f1), $(($(date +%s) - t0)) s, sha256 $(sha256sum "$tgz" | cut -c1-16)...)"
  echo "$tgz"
}

for a in "${arches[@]}"; do
  glibc_floor=""
  build_arch "$a"
done
