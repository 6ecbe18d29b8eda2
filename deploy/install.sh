#!/bin/sh
# Installs the Tributary agent on a host (docs/operations.md, "Installing a fleet").
#
#   install.sh [--package PATH] [--collector-url URL] [--metrics-listen HOST:PORT] [--offline] [--no-enable]
#   install.sh --uninstall [--purge]
#   common: [--root DIR] [--prefix DIR] [--node PATH]
#
# What it does, every step safe to repeat (running it twice gives the same result):
#   1. checks that Node >= 20.19 is installed (--node picks a binary; default: `node` on PATH);
#   2. installs the package into PREFIX/app (default PREFIX /opt/tributary) from PATH: a tarball made by
#      `npm pack`, or a package directory (default: the checkout this script lives in). Dependencies come from
#      `npm install --omit=dev`; --offline uses only the npm cache (no network). An unchanged package (same
#      tarball checksum) is not reinstalled;
#   3. writes PREFIX/bin/tributary (runs the package with the Node of step 1) and /usr/local/bin/tributary -> it;
#   4. creates the system user and group `tributary` (no login shell, no home directory);
#   5. writes /etc/tributary/agent.yaml and agent.env skeletons, never overwriting existing ones;
#   6. installs the systemd units tributary-agent.service and tributary-collector.service and enables the agent
#      (systemctl; with --root, `systemctl --root` only links the unit; without systemctl it says what to do).
#
# --root DIR (or DESTDIR=DIR) installs into DIR instead of / (a throwaway root for tests, an image being built):
# nothing outside DIR is touched and no service is started. The user is created in DIR/etc/passwd when that file
# exists, and skipped with a notice otherwise.
# --uninstall stops and removes the units, the package and the command; configuration (/etc/tributary), state
# (/var/lib/tributary) and the user stay unless --purge is given as well.
set -eu

PROG=${0##*/}
SCRIPT_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
ROOT=${DESTDIR:-}
PREFIX=/opt/tributary
PACKAGE=
NODE=
COLLECTOR_URL=http://127.0.0.1:7070
METRICS_LISTEN=127.0.0.1:9464
OFFLINE=no
ENABLE=yes
ACTION=install
PURGE=no
MIN_NODE=20.19.0
USER_NAME=tributary
UNITS="tributary-agent.service tributary-collector.service"

die() {
  printf '%s: %s\n' "$PROG" "$*" >&2
  exit 1
}
say() { printf '%s: %s\n' "$PROG" "$*"; }

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

while [ $# -gt 0 ]; do
  case $1 in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#*=}; shift ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    --package) [ $# -ge 2 ] || die "--package needs a tarball or directory"; PACKAGE=$2; shift 2 ;;
    --package=*) PACKAGE=${1#*=}; shift ;;
    --node) [ $# -ge 2 ] || die "--node needs the path of a node binary"; NODE=$2; shift 2 ;;
    --node=*) NODE=${1#*=}; shift ;;
    --collector-url) [ $# -ge 2 ] || die "--collector-url needs a URL"; COLLECTOR_URL=$2; shift 2 ;;
    --collector-url=*) COLLECTOR_URL=${1#*=}; shift ;;
    --metrics-listen) [ $# -ge 2 ] || die "--metrics-listen needs HOST:PORT"; METRICS_LISTEN=$2; shift 2 ;;
    --metrics-listen=*) METRICS_LISTEN=${1#*=}; shift ;;
    --offline) OFFLINE=yes; shift ;;
    --no-enable) ENABLE=no; shift ;;
    --uninstall) ACTION=uninstall; shift ;;
    --purge) PURGE=yes; shift ;;
    -h | --help) usage 0 ;;
    *) printf '%s: unknown option %s\n' "$PROG" "$1" >&2; usage 2 >&2 ;;
  esac
done

case $PREFIX in /*) ;; *) die "--prefix must be an absolute path, got '$PREFIX'" ;; esac
if [ -n "$ROOT" ]; then
  case $ROOT in /*) ;; *) ROOT=$(pwd)/$ROOT ;; esac
  ROOT=${ROOT%/}
  [ -d "$ROOT" ] || die "--root $ROOT is not a directory (create it first)"
fi
case $COLLECTOR_URL in http://* | https://*) ;; *) die "--collector-url must start with http:// or https://, got '$COLLECTOR_URL'" ;; esac
case $METRICS_LISTEN in *:[0-9]*) ;; *) die "--metrics-listen must be HOST:PORT like 0.0.0.0:9464, got '$METRICS_LISTEN'" ;; esac

APP=$PREFIX/app
# Directories this script created, so --uninstall removes exactly those (when empty) and nothing of the host's.
CREATED_DIRS=$ROOT$PREFIX/.created-dirs
STAMP=$ROOT$PREFIX/.package-sha256

# mkdir_tracked DIR: creates DIR (inside ROOT) and its missing parents, remembering those it created (PREFIX itself
# excepted: the list lives in it). Called for PREFIX first, so the list always has somewhere to go.
mkdir_tracked() {
  _target=$1
  _missing=
  while [ ! -d "$ROOT$_target" ]; do
    _missing="$_target $_missing"
    _target=$(dirname -- "$_target")
  done
  [ -n "$_missing" ] || return 0
  mkdir -p "$ROOT$1"
  for _d in $_missing; do
    if [ "$_d" != "$PREFIX" ]; then printf '%s\n' "$_d" >>"$CREATED_DIRS"; fi
  done
}

systemd_running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }

have() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------------------------------------------------------
check_node() {
  if [ -z "$NODE" ]; then
    NODE=$(command -v node) || die "Node.js >= ${MIN_NODE%.0} is required and 'node' is not on PATH: install it (e.g. from https://nodejs.org or your distribution), or pass --node /path/to/node"
  fi
  [ -x "$NODE" ] || die "--node $NODE is not an executable file"
  case $NODE in /*) ;; *) NODE=$(cd -- "$(dirname -- "$NODE")" && pwd)/${NODE##*/} ;; esac
  _version=$("$NODE" -p 'process.versions.node') || die "$NODE did not run; check the Node installation"
  if ! "$NODE" -e '
    const want = process.argv[1].split(".").map(Number);
    const have = process.versions.node.split(".").map(Number);
    for (let i = 0; i < 3; i++) if (have[i] !== want[i]) process.exit(have[i] > want[i] ? 0 : 1);
  ' "$MIN_NODE"; then
    die "Node.js $_version at $NODE is too old: Tributary needs >= ${MIN_NODE%.0} (package.json engines)"
  fi
  say "Node.js $_version at $NODE"
}

# Prints the path of a tarball for PACKAGE, packing a directory with `npm pack` into WORK first.
package_tarball() {
  _src=${PACKAGE:-$SCRIPT_DIR/..}
  if [ -f "$_src" ]; then
    printf '%s\n' "$_src"
  elif [ -f "$_src/package.json" ]; then
    [ -f "$_src/dist/shared/cli/tributary.js" ] ||
      die "$_src has no dist/ (the compiled JavaScript): run \`npm install\` or \`npm run build\` there first"
    _name=$(cd -- "$WORK" && npm pack --silent --ignore-scripts "$(cd -- "$_src" && pwd)") ||
      die "npm pack of $_src failed"
    printf '%s\n' "$WORK/$_name"
  else
    die "--package $_src is neither a tarball (npm pack) nor a directory holding package.json"
  fi
}

install_package() {
  _tarball=$(package_tarball)
  _sum=$(sha256sum "$_tarball" | cut -d' ' -f1)
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$_sum" ] && [ -f "$ROOT$APP/package.json" ]; then
    say "package unchanged (sha256 $_sum): $ROOT$APP kept"
    return
  fi
  # Staged beside the live copy and swapped in with two renames, so a failed install leaves the old one working.
  rm -rf "$ROOT$APP.new" "$ROOT$APP.old"
  mkdir "$ROOT$APP.new"
  tar -xzf "$_tarball" -C "$ROOT$APP.new" --strip-components=1 --no-same-owner
  [ -f "$ROOT$APP.new/dist/shared/cli/tributary.js" ] || die "$_tarball is not a Tributary package (no dist/shared/cli/tributary.js)"
  say "installing dependencies (npm install --omit=dev, offline: $OFFLINE)"
  set -- install --omit=dev --ignore-scripts --no-audit --no-fund --no-package-lock --loglevel=error
  if [ "$OFFLINE" = yes ]; then set -- "$@" --offline; fi
  (cd -- "$ROOT$APP.new" && npm "$@" >/dev/null) ||
    die "npm install in $ROOT$APP.new failed (without network, pass --offline with a filled npm cache)"
  chmod -R u=rwX,go=rX "$ROOT$APP.new"
  if [ -d "$ROOT$APP" ]; then mv "$ROOT$APP" "$ROOT$APP.old"; fi
  mv "$ROOT$APP.new" "$ROOT$APP"
  rm -rf "$ROOT$APP.old"
  printf '%s\n' "$_sum" >"$STAMP"
  say "installed $(sed -n 's/^ *"version": *"\(.*\)",*$/\1/p' "$ROOT$APP/package.json" | head -n1) into $ROOT$APP"
}

install_command() {
  mkdir_tracked "$PREFIX/bin"
  _wrapper=$ROOT$PREFIX/bin/tributary
  printf '#!/bin/sh\n# Written by deploy/install.sh: runs Tributary with the Node that passed its version check.\nexec %s %s "$@"\n' \
    "$NODE" "$APP/dist/shared/cli/tributary.js" >"$_wrapper.tmp"
  chmod 0755 "$_wrapper.tmp"
  mv "$_wrapper.tmp" "$_wrapper"
  mkdir_tracked /usr/local/bin
  ln -sfn "$PREFIX/bin/tributary" "$ROOT/usr/local/bin/tributary"
}

# The group id in the target root (the host may not know the user when ROOT is set); empty when absent.
tributary_gid() {
  [ -f "$ROOT/etc/group" ] || return 0
  awk -F: -v n="$USER_NAME" '$1 == n { print $3 }' "$ROOT/etc/group"
}

create_user() {
  if [ ! -f "$ROOT/etc/passwd" ]; then
    say "notice: $ROOT/etc/passwd does not exist: user '$USER_NAME' not created (create it on the target host)"
    return
  fi
  if grep -q "^$USER_NAME:" "$ROOT/etc/passwd"; then
    return
  fi
  have useradd || die "useradd is missing: create the system user '$USER_NAME' by hand and run again"
  set -- --system --user-group --no-create-home --home-dir /var/lib/tributary --shell /usr/sbin/nologin \
    --comment 'Tributary log shipping'
  if [ -n "$ROOT" ]; then set -- --prefix "$ROOT" "$@"; fi
  useradd "$@" "$USER_NAME" || die "useradd $USER_NAME failed (run as root)"
  say "created system user $USER_NAME"
}

# write_once FILE MODE: writes stdin to FILE unless it exists (an operator's config is never overwritten).
write_once() {
  if [ -e "$1" ]; then
    cat >/dev/null
    say "kept existing $1"
    return
  fi
  cat >"$1.tmp"
  chmod "$2" "$1.tmp"
  _gid=$(tributary_gid)
  if [ -n "$_gid" ]; then chown "0:$_gid" "$1.tmp"; fi
  mv "$1.tmp" "$1"
  say "wrote $1"
}

write_config() {
  mkdir_tracked /etc/tributary
  chmod 0750 "$ROOT/etc/tributary"
  _gid=$(tributary_gid)
  if [ -n "$_gid" ]; then chown "0:$_gid" "$ROOT/etc/tributary"; fi
  write_once "$ROOT/etc/tributary/agent.yaml" 0640 <<EOF
# Tributary agent configuration, written by deploy/install.sh (never overwritten by it).
# Reference for every key: docs/agent.md; a fuller example: deploy/examples/agent.yaml.
# After a change: systemctl restart tributary-agent

sources:
  - name: syslog # also the \`service\` label
    include: [/var/log/syslog, /var/log/messages]
    topic: syslog

collector:
  urls: [$COLLECTOR_URL]
  # The token (role produce) comes from /etc/tributary/agent.env: TRIBUTARY_AGENT_COLLECTOR_TOKEN=...

state_dir: /var/lib/tributary/agent # the unit's StateDirectory
metrics:
  listen: $METRICS_LISTEN # Prometheus scrapes /metrics here; use the host's private address for a fleet
EOF
  write_once "$ROOT/etc/tributary/agent.env" 0600 <<'EOF'
# Environment of tributary-agent.service (root-only: it holds the collector token).
# TRIBUTARY_AGENT_COLLECTOR_TOKEN=paste-a-token-with-the-produce-role
EOF
}

install_units() {
  mkdir_tracked /etc/systemd/system
  for _unit in $UNITS; do
    sed "s#/opt/tributary/#$PREFIX/#g" "$ROOT$APP/deploy/systemd/$_unit" >"$ROOT/etc/systemd/system/$_unit.tmp"
    chmod 0644 "$ROOT/etc/systemd/system/$_unit.tmp"
    mv "$ROOT/etc/systemd/system/$_unit.tmp" "$ROOT/etc/systemd/system/$_unit"
  done
  if [ "$ENABLE" = no ]; then
    say "units installed, not enabled (--no-enable)"
  elif ! have systemctl; then
    say "notice: no systemctl here: enable the agent with your init system (unit: /etc/systemd/system/tributary-agent.service)"
  elif [ -n "$ROOT" ]; then
    mkdir_tracked /etc/systemd/system/multi-user.target.wants
    systemctl --root="$ROOT" --quiet enable tributary-agent.service
    say "enabled tributary-agent.service in $ROOT (not started)"
  elif systemd_running; then
    systemctl daemon-reload
    systemctl --quiet enable tributary-agent.service
    # An upgrade restarts a running agent on the new code; a first install starts it.
    if systemctl --quiet is-active tributary-agent.service; then
      systemctl restart tributary-agent.service
      say "restarted tributary-agent.service"
    else
      systemctl start tributary-agent.service
      say "started tributary-agent.service (journalctl -u tributary-agent -f)"
    fi
  else
    systemctl --quiet enable tributary-agent.service
    say "enabled tributary-agent.service (systemd is not running here: it starts at next boot)"
  fi
}

# ---------------------------------------------------------------------------------------------------------------
uninstall() {
  if have systemctl; then
    if [ -n "$ROOT" ]; then
      for _unit in $UNITS; do
        if [ -f "$ROOT/etc/systemd/system/$_unit" ]; then systemctl --root="$ROOT" --quiet disable "$_unit" 2>/dev/null || true; fi
      done
    else
      for _unit in $UNITS; do
        if [ -f "/etc/systemd/system/$_unit" ]; then
          if systemd_running; then systemctl --quiet disable --now "$_unit" || true; else systemctl --quiet disable "$_unit" || true; fi
        fi
      done
    fi
  fi
  for _unit in $UNITS; do rm -f "$ROOT/etc/systemd/system/$_unit"; done
  if systemd_running; then systemctl daemon-reload; fi
  if [ "$(readlink "$ROOT/usr/local/bin/tributary" 2>/dev/null || true)" = "$PREFIX/bin/tributary" ]; then
    rm -f "$ROOT/usr/local/bin/tributary"
  fi
  _created=
  if [ -f "$CREATED_DIRS" ]; then _created=$(sort -r -u "$CREATED_DIRS"); fi
  rm -rf "$ROOT$APP" "$ROOT$APP.new" "$ROOT$APP.old" "$ROOT${PREFIX:?}/bin" "$STAMP" "$CREATED_DIRS"
  if [ -d "$ROOT$PREFIX" ]; then
    rmdir "$ROOT$PREFIX" 2>/dev/null || say "kept $ROOT$PREFIX: it holds files this script did not write"
  fi
  if [ "$PURGE" = yes ]; then
    rm -rf "$ROOT/etc/tributary" "$ROOT/var/lib/tributary"
    if [ -f "$ROOT/etc/passwd" ] && grep -q "^$USER_NAME:" "$ROOT/etc/passwd"; then
      set --
      if [ -n "$ROOT" ]; then set -- --prefix "$ROOT"; fi
      userdel "$@" "$USER_NAME" || die "userdel $USER_NAME failed (run as root)"
      say "removed user $USER_NAME"
    fi
    # userdel drops the user's own group only where login.defs says USERGROUPS_ENAB (not in a bare --root).
    if [ -n "$(tributary_gid)" ]; then
      set --
      if [ -n "$ROOT" ]; then set -- --prefix "$ROOT"; fi
      groupdel "$@" "$USER_NAME" || die "groupdel $USER_NAME failed (run as root)"
    fi
  else
    say "kept $ROOT/etc/tributary and $ROOT/var/lib/tributary (add --purge to remove them and the user)"
  fi
  # Deepest first; a directory that holds anything else is left alone.
  for _d in $_created; do rmdir "$ROOT$_d" 2>/dev/null || true; done
  say "uninstalled"
}

if [ "$ACTION" = uninstall ]; then
  uninstall
  exit 0
fi

[ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ] && die "run as root (or with --root DIR to install into a directory)"
check_node
have npm || die "npm is required to install the package's dependencies (it comes with Node.js)"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT INT TERM
umask 022
mkdir_tracked "$PREFIX"
install_package
install_command
create_user
write_config
install_units
say "done. Next: put the collector token in $ROOT/etc/tributary/agent.env and adjust $ROOT/etc/tributary/agent.yaml"
