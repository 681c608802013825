#!/usr/bin/env bash
# A private Docker engine for the container services, their tests and CI (README: Development):
#   start   - install docker.io, docker-compose, debootstrap and podman (apt, when root) if missing, start
#             dockerd with the safe flags and wait until it answers; prints DOCKER_HOST=...
#   stop    - stop the dockerd that `start` started (by the PID in its pidfile), nothing else
#   status  - say whether that engine answers (exit 1 when it does not)
#   base    - build the base image prizm/base:bookworm once (debootstrap minbase + python3 + venv),
#             into the engine of $DOCKER_HOST, or this script's engine when DOCKER_HOST is unset
#   env     - print `export DOCKER_HOST=...` for this script's engine
# Everything lives in PRIZM_DOCKER_HOME (default ~/.cache/prizm/docker), outside the repository, so
# images and the base rootfs stay cached between runs.
set -euo pipefail
cd "$(dirname "$0")/.."

D=${PRIZM_DOCKER_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/prizm/docker}
ENGINE_HOST=unix://$D/docker.sock
PIDFILE=$D/dockerd.pid
BASE_IMAGE=prizm/base:bookworm
BASE_TAR=$D/base-bookworm.tar
MIRROR=${PRIZM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_PACKAGES=python3,python3-venv
# How the base image is made: its label, and the key of the cached rootfs (a new recipe, a new build).
RECIPE="debootstrap --variant=minbase --include=$BASE_PACKAGES bookworm $MIRROR, less docs and translations"
START_TIMEOUT_S=30
# dockerd itself gives running containers 15 s to stop before it exits.
STOP_GRACE_S=30

say() { echo "docker_engine: $*" >&2; }
die() { say "$*"; exit 1; }

apt_install() {
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    die "please install: $* (not root with apt, so not installing them myself)"
  fi
}

# Answers when the engine at $1 (a DOCKER_HOST) serves the API.
answers() { DOCKER_HOST=$1 timeout 10 docker info >/dev/null 2>&1; }

# The PID of the dockerd this script started, if that process still runs; empty otherwise. The
# command line must name our pidfile: a recycled PID or someone else's dockerd is never ours.
our_pid() {
  [[ -s $PIDFILE ]] || return 0
  local pid
  pid=$(<"$PIDFILE")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--pidfile $PIDFILE"; then
    echo "$pid"
  fi
}

start() {
  local missing=()
  command -v dockerd >/dev/null && command -v docker >/dev/null || missing+=(docker.io)
  # Debian's Compose v1 (Python; DESIGN §6) runs deploy/compose/ against this engine.
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  # debootstrap makes the base image (`base`, which installs it too): as root, set both up at once.
  if [[ $(id -u) == 0 ]] && ! command -v debootstrap >/dev/null; then
    missing+=(debootstrap debian-archive-keyring)
  fi
  # Debian's podman (4.3) plays the Helm chart's Pods (tests/integration/test_kube_play.py); its
  # pause image needs catatonit (DESIGN §6).
  if [[ $(id -u) == 0 ]] && ! { command -v podman >/dev/null && command -v catatonit >/dev/null; }; then
    missing+=(podman catatonit)
  fi
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
  mkdir -p "$D"
  # A unix socket path must fit in sun_path (108 bytes); keep a margin.
  ((${#D} < 85)) || die "PRIZM_DOCKER_HOME is too long for a socket path: $D"
  if answers "$ENGINE_HOST"; then
    say "already running"
  else
    [[ $(id -u) == 0 ]] || die "dockerd needs root and none answers at $ENGINE_HOST"
    # One of ours that runs but does not answer yet is starting: wait for it rather than start two.
    if [[ -z $(our_pid) ]]; then
      # Never without these flags: without them dockerd rewrites the machine's firewall and makes
      # a bridge on a private range. Containers use the host network instead.
      setsid dockerd --iptables=false --ip6tables=false --bridge=none --ip-masq=false \
        --data-root "$D/data" --exec-root "$D/exec" --pidfile "$PIDFILE" -H "$ENGINE_HOST" \
        </dev/null >>"$D/dockerd.log" 2>&1 &
    fi
    local waited=0
    until answers "$ENGINE_HOST"; do
      ((waited++ < START_TIMEOUT_S)) || die "dockerd did not answer in ${START_TIMEOUT_S}s; see $D/dockerd.log"
      sleep 1
    done
    say "started (PID $(our_pid)), log in $D/dockerd.log"
  fi
  echo "DOCKER_HOST=$ENGINE_HOST"
}

stop() {
  local pid
  pid=$(our_pid)
  [[ -n $pid ]] || { say "not running (no dockerd of ours)"; return 0; }
  kill -TERM "$pid"
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited++ >= STOP_GRACE_S)); then
      say "dockerd $pid ignored SIGTERM for ${STOP_GRACE_S}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 1
  done
  # dockerd leaves its default network namespace mounted in its exec root: release it too.
  if mountpoint -q "$D/exec/netns/default"; then
    umount "$D/exec/netns/default" || say "could not unmount $D/exec/netns/default"
  fi
  say "stopped (PID $pid)"
}

status() {
  if answers "$ENGINE_HOST"; then
    echo "running: DOCKER_HOST=$ENGINE_HOST (PID $(our_pid))"
  else
    echo "not running: nothing answers at $ENGINE_HOST"
    return 1
  fi
}

# The rootfs of the base image, made once with debootstrap and cached as a tarball.
make_base_tar() {
  command -v debootstrap >/dev/null || apt_install debootstrap debian-archive-keyring
  [[ $(id -u) == 0 ]] || die "debootstrap needs root"
  mkdir -p "$D"
  local root
  root=$(mktemp -d "$D/rootfs.XXXXXX")
  # shellcheck disable=SC2064  # expand now: the trap must remove this very directory
  trap "rm -rf '$root' '$BASE_TAR.part'" EXIT
  say "debootstrap --variant=minbase --include=$BASE_PACKAGES bookworm $MIRROR (about a minute)"
  if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$root" "$MIRROR" \
    >"$D/debootstrap.log" 2>&1; then
    tail -n 20 "$D/debootstrap.log" >&2
    die "debootstrap failed; see $D/debootstrap.log"
  fi
  # Package caches and indexes, documentation and translations only make every image bigger (by
  # a quarter): services get their packages as wheels, and speak C.UTF-8.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
  tar -C "$root" -cf "$BASE_TAR.part" .
  mv "$BASE_TAR.part" "$BASE_TAR"
  echo "$RECIPE" >"$BASE_TAR.recipe"
  rm -rf "$root"
  trap - EXIT
}

base() {
  local host=${DOCKER_HOST:-$ENGINE_HOST}
  answers "$host" || die "no engine answers at $host (run: $0 start)"
  local made
  made=$(DOCKER_HOST=$host docker image inspect -f '{{index .Config.Labels "prizm.base.recipe"}}' \
    "$BASE_IMAGE" 2>/dev/null || true)
  if [[ $made == "$RECIPE" ]]; then
    say "$BASE_IMAGE exists"
    return 0
  fi
  [[ -s $BASE_TAR && $(cat "$BASE_TAR.recipe" 2>/dev/null) == "$RECIPE" ]] || make_base_tar
  DOCKER_HOST=$host docker import \
    --change "LABEL prizm.base.recipe=\"$RECIPE\"" \
    --change 'LABEL prizm.base.made-by="scripts/docker_engine.sh base"' \
    --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --message "prizm base: debootstrap minbase bookworm + $BASE_PACKAGES" \
    "$BASE_TAR" "$BASE_IMAGE" >/dev/null
  say "built $BASE_IMAGE from $BASE_TAR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  base) base ;;
  env) echo "export DOCKER_HOST=$ENGINE_HOST" ;;
  *) echo "usage: $0 start|stop|status|base|env" >&2; exit 2 ;;
esac
