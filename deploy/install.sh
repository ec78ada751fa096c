#!/usr/bin/env bash
# Installs pinetd on a Raspberry Pi (or any systemd Linux) from the unpacked tarball this script
# sits in. Run as root; safe to run again (upgrade, repair). See deploy/README.md.
#
#   tar -xzf pinetd-<version>-linux-<arch>.tar.gz
#   sudo ./pinetd-<version>-linux-<arch>/install.sh               install or upgrade, (re)start
#   sudo ./pinetd-<version>-linux-<arch>/install.sh --rollback    switch back to the previous release
#   sudo ./pinetd-<version>-linux-<arch>/install.sh --uninstall   remove all but /etc/pinetd and /var/lib/pinetd
#
# Layout: /opt/pinetd is a symlink to /opt/pinetd.releases/<version>-<build>; an upgrade unpacks
# the new release beside the current one and swaps the symlink with one rename(2), keeping the
# previous release (/opt/pinetd.releases/previous) for --rollback. Config: /etc/pinetd/config.json
# (never overwritten; the shipped sample is refreshed as /etc/pinetd/config.example.json).
# PINETD_WAIT_SECS: how long to wait for the service to become active (default 60; the unit
# starts after network-online.target, which can take a while on a fresh boot).
set -euo pipefail

SERVICE=pinetd
PREFIX=/opt/pinetd
RELEASES=/opt/pinetd.releases
ETC=/etc/pinetd
UNIT=/etc/systemd/system/pinetd.service
AVAHI=/etc/avahi/services/pinetd.service
UDEV_RULE=/etc/udev/rules.d/60-pinetd-gpio.rules
WAIT_SECS=${PINETD_WAIT_SECS:-60}

say() { echo "install.sh: $*"; }
die() { echo "install.sh: error: $*" >&2; exit 1; }

mode=install
case "${1:-}" in
  "") ;;
  --rollback) mode=rollback ;;
  --uninstall) mode=uninstall ;;
  -h|--help) sed -n '5,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) die "unknown argument '$1' (expected nothing, --rollback or --uninstall)" ;;
esac
[ "$(id -u)" = 0 ] || die "run as root: sudo $0 $*"
{ [ -d /run/systemd/system ] && command -v systemctl >/dev/null; } || die "systemd is not running on this system; pinetd is installed as a systemd service"

wait_active() {
  local i state
  for ((i = 0; i < WAIT_SECS * 5; i++)); do
    state=$(systemctl is-active "$SERVICE" 2>/dev/null || true)
    case "$state" in
      active) return 0 ;;
      failed) break ;;
    esac
    sleep 0.2
  done
  systemctl --no-pager --full status "$SERVICE" >&2 || true
  journalctl --no-pager -n 30 -u "$SERVICE" >&2 || true
  if [ -n "$(systemctl list-jobs --no-legend 2>/dev/null)" ]; then
    echo "install.sh: pending systemd jobs (pinetd starts after network-online.target):" >&2
    systemctl --no-pager list-jobs >&2 || true
  fi
  die "$SERVICE did not become active within ${WAIT_SECS}s (state: ${state:-unknown}); see the log above. Previous release: $0 --rollback"
}

switch_to() { # atomically point $PREFIX at release dir $1
  ln -sfn "$1" "$PREFIX.tmp.$$"
  mv -Tf "$PREFIX.tmp.$$" "$PREFIX"
}

restart() {
  systemctl daemon-reload
  systemctl enable "$SERVICE" >/dev/null 2>&1 || systemctl enable "$SERVICE"
  say "restarting $SERVICE"
  systemctl restart --no-block "$SERVICE"
  wait_active
  systemctl --no-pager --full status "$SERVICE" || true
}

# ---------------------------------------------------------------- uninstall
if [ "$mode" = uninstall ]; then
  say "stopping and disabling $SERVICE"
  systemctl disable --now "$SERVICE" 2>/dev/null || true
  rm -f "$UNIT"
  systemctl daemon-reload
  systemctl reset-failed "$SERVICE" 2>/dev/null || true
  rm -f "$AVAHI"
  if [ -f "$UDEV_RULE" ]; then
    rm -f "$UDEV_RULE"
    udevadm control --reload 2>/dev/null || true
  fi
  rm -rf "$PREFIX" "$RELEASES" "$PREFIX.tmp."*
  # The code cache (CacheDirectory=): derived data, owned by the user about to be removed.
  rm -rf "/var/cache/$SERVICE"
  if id "$SERVICE" >/dev/null 2>&1; then userdel "$SERVICE" || say "warning: could not remove user $SERVICE"; fi
  if getent group "$SERVICE" >/dev/null; then groupdel "$SERVICE" || say "warning: could not remove group $SERVICE"; fi
  say "removed $PREFIX, $RELEASES, $UNIT, $AVAHI, /var/cache/$SERVICE and the user and group $SERVICE"
  say "kept the configuration in $ETC (remove it with: sudo rm -rf $ETC) and the group gpio"
  if [ -d "/var/lib/$SERVICE" ]; then say "kept the saved store in /var/lib/$SERVICE (remove it with: sudo rm -rf /var/lib/$SERVICE)"; fi
  exit 0
fi

# ---------------------------------------------------------------- rollback
if [ "$mode" = rollback ]; then
  prev=$(readlink "$RELEASES/previous" 2>/dev/null || true)
  cur=$(readlink "$PREFIX" 2>/dev/null || true)
  { [ -n "$prev" ] && [ -d "$prev" ]; } || die "no previous release to roll back to (in $RELEASES)"
  say "rolling back: $cur -> $prev"
  switch_to "$prev"
  [ -z "$cur" ] || ln -sfn "$cur" "$RELEASES/previous"
  restart
  exit 0
fi

# ---------------------------------------------------------------- install
src=$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)
{ [ -f "$src/BUILDINFO" ] && [ -f "$src/dist/cli/pinetd.cjs" ]; } || die "$src is not an unpacked pinetd tarball (no BUILDINFO or dist/); unpack the tarball and run the install.sh inside it"
info() { sed -n "s/^$1=//p" "$src/BUILDINFO"; }
version=$(info PINETD_VERSION) arch=$(info PINETD_ARCH) major=$(info NODE_MAJOR)
abi=$(info NODE_MODULE_VERSION) floor=$(info GLIBC_FLOOR) build=$(info BUILD_ID)
say "installing pinetd $version ($arch, built for Node $major) from $src"

# Node.js: the node the unit runs (ExecStart=/usr/bin/node ...) must exist and be of the same arch
# and major as the build (native addons are built for its ABI)
fix="install Node.js $major"
[ "$major" != 20 ] || fix="$fix (Raspberry Pi OS trixie: sudo apt install nodejs; bookworm's own nodejs is Node 18, use NodeSource's node_20.x repository there)"
node=$(sed -n 's/^ExecStart=[-@:+!]*\([^ ]*\).*/\1/p' "$src/systemd/pinetd.service" | head -n1)
case "$node" in */node) ;; *) node=$(command -v node || echo /usr/bin/node) ;; esac
if [ ! -x "$node" ]; then
  other=$(command -v node || true)
  [ -z "$other" ] || die "the unit runs $node, which does not exist (there is a node at $other, e.g. from nvm; install a system-wide Node.js or: sudo ln -s $other $node)"
  die "Node.js is not installed ($node is missing). Fix: $fix"
fi
node_ver=$("$node" -p process.version) node_abi=$("$node" -p process.versions.modules) node_arch=$("$node" -p process.arch)
node_major=${node_ver#v} node_major=${node_major%%.*}
[ "$node_abi" = "$abi" ] || die "this build needs Node $major (NODE_MODULE_VERSION $abi) but $node is $node_ver (NODE_MODULE_VERSION $node_abi). Fix: $fix, or build a tarball for Node $node_major: deploy/build.sh --node-major $node_major"
want_arch=$arch; [ "$arch" = armhf ] && want_arch=arm
[ "$node_arch" = "$want_arch" ] || die "this tarball is for $arch but $node is $node_arch; install pinetd-$version-linux-$( [ "$node_arch" = arm ] && echo armhf || echo "$node_arch").tar.gz (deploy/push.sh picks it for you)"
if [ "$floor" != none ] && command -v getconf >/dev/null; then
  libc=$(getconf GNU_LIBC_VERSION 2>/dev/null || true) libc=${libc#glibc }
  if [ -n "$libc" ] && [ "$(printf '%s\n%s\n' "$libc" "$floor" | sort -V | head -n1)" != "$floor" ]; then
    die "the native addons need glibc $floor but this system has $libc (Raspberry Pi OS bullseye or older?); use Raspberry Pi OS bookworm or later"
  fi
fi

# Group gpio and its udev rule. Raspberry Pi OS has both (raspberrypi-sys-mods' 99-com.rules gives
# group gpio /dev/gpiochip* and the /sys/class/gpio files). Elsewhere /sys/class/gpio/export is
# root-only: our rule hands export/unexport and every exported gpioN/ to group gpio, so the
# unprivileged service can use the sysfs interface that onoff drives.
if ! getent group gpio >/dev/null; then
  say "creating system group gpio"
  groupadd --system gpio
fi
if ! grep -rqsE 'chgrp[^"]*gpio|GROUP="gpio"' /etc/udev/rules.d /lib/udev/rules.d /usr/lib/udev/rules.d \
   || [ -f "$UDEV_RULE" ]; then
  say "writing $UDEV_RULE (group gpio may use /sys/class/gpio and /dev/gpiochip*)"
  mkdir -p "$(dirname "$UDEV_RULE")"
  cat >"$UDEV_RULE" <<'EOF'
# Installed by pinetd's install.sh: lets group gpio use the GPIO sysfs interface and chardevs.
SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"
SUBSYSTEM=="gpio", KERNEL=="gpiochip*", ACTION=="add", RUN+="/bin/sh -c 'chgrp gpio /sys/class/gpio/export /sys/class/gpio/unexport && chmod 0220 /sys/class/gpio/export /sys/class/gpio/unexport'"
SUBSYSTEM=="gpio", KERNEL=="gpio[0-9]*", ACTION=="add", RUN+="/bin/sh -c 'chgrp -R gpio /sys%p && chmod -R g=u /sys%p'"
EOF
  if command -v udevadm >/dev/null; then
    udevadm control --reload 2>/dev/null || true
    udevadm trigger --subsystem-match=gpio --action=add 2>/dev/null || true
  fi
fi

# User pinetd: system account, no login, no home, in group gpio
if ! id "$SERVICE" >/dev/null 2>&1; then
  say "creating system user $SERVICE (no login, no home, groups: gpio)"
  if getent group "$SERVICE" >/dev/null; then group_opt=(--gid "$SERVICE"); else group_opt=(--user-group); fi
  useradd --system "${group_opt[@]}" --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    --comment "pinetd daemon" --groups gpio "$SERVICE"
elif ! id -nG "$SERVICE" | tr ' ' '\n' | grep -qx gpio; then
  usermod -aG gpio "$SERVICE"
fi

# The release: copy beside the current one, then swap the symlink
mkdir -p "$RELEASES"
rel="$RELEASES/$version-$build"
cur=$(readlink "$PREFIX" 2>/dev/null || true)
if [ -d "$PREFIX" ] && [ ! -L "$PREFIX" ]; then # a plain directory from a manual install
  cur="$RELEASES/manual-$(date +%Y%m%d%H%M%S)"
  mv -T "$PREFIX" "$cur"
  ln -s "$cur" "$PREFIX"
fi
if [ "$cur" = "$rel" ] && [ -d "$rel" ]; then
  say "release $version-$build is already the current one"
else
  if [ ! -d "$rel" ]; then
    new=$(mktemp -d "$RELEASES/.new.XXXXXX")
    cp -a "$src/." "$new/"
    chown -R root:root "$new"
    chmod -R go-w "$new"
    chmod 0755 "$new"
    mv -T "$new" "$rel"
  fi
  switch_to "$rel"
  say "$PREFIX -> $rel"
  if [ -n "$cur" ] && [ -d "$cur" ]; then ln -sfn "$cur" "$RELEASES/previous"; fi
fi
prev=$(readlink "$RELEASES/previous" 2>/dev/null || true)
for d in "$RELEASES"/*/ "$RELEASES"/.new.*; do # keep the current and the previous release only
  d=${d%/}
  if [ ! -e "$d" ] || [ -L "$d" ]; then continue; fi
  [ "$d" = "$rel" ] || [ "$d" = "$prev" ] || rm -rf "$d"
done

# Configuration: installed once, then it is the admin's
mkdir -p "$ETC"
install -m 0644 "$src/systemd/config.example.json" "$ETC/config.example.json"
if [ -e "$ETC/config.json" ]; then
  say "kept the existing $ETC/config.json (the shipped sample is $ETC/config.example.json)"
else
  install -m 0640 -o root -g "$SERVICE" "$src/systemd/config.example.json" "$ETC/config.json"
  say "installed $ETC/config.json from the sample"
fi

# systemd unit
install -m 0644 "$src/systemd/pinetd.service" "$UNIT"
say "installed $UNIT"

# Avahi (mDNS): only when avahi-daemon is installed; advertise the configured port
if [ -d "$(dirname "$AVAHI")" ]; then
  port=$("$node" -e 'try { const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(String(c.port ?? 9999)); } catch { process.stdout.write("9999"); }' "$ETC/config.json")
  if [ "$port" = 0 ]; then
    say "warning: port 0 (random) in $ETC/config.json cannot be advertised; skipped $AVAHI"
    rm -f "$AVAHI"
  else
    sed "s|<port>[0-9]*</port>|<port>$port</port>|" "$src/avahi/pinetd.service" >"$AVAHI.tmp"
    chmod 0644 "$AVAHI.tmp"
    mv -f "$AVAHI.tmp" "$AVAHI"
    say "installed $AVAHI (_pinetd._tcp on port $port)"
  fi
else
  say "avahi-daemon not installed: no mDNS advertisement (sudo apt install avahi-daemon, then run this again)"
fi

restart
say "pinetd $version is running from $PREFIX ($(readlink "$PREFIX")); config: $ETC/config.json"
