# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings below are used by the scripts that source this file
# Shared settings and helpers for test/infra/up.sh and test/infra/down.sh. Sourced, not run.

INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$INFRA_DIR/../.." && pwd)

# Versions of what the stand-in images run. Changing one rebuilds the affected images.
KAFKA_VERSION=${GAPIPE_INFRA_KAFKA_VERSION:-4.4.0}
ES_VERSION=${GAPIPE_INFRA_ES_VERSION:-8.19.21}
BASE_SUITE=bookworm
BASE_JAVA=17
BASE_PACKAGES="openjdk-${BASE_JAVA}-jre-headless,procps,tini,curl"

IMAGE_PREFIX=gapipe-standin
BASE_IMAGE="$IMAGE_PREFIX/jre-base:$BASE_SUITE-$BASE_JAVA"
KAFKA_IMAGE="$IMAGE_PREFIX/kafka:$KAFKA_VERSION"
ES_IMAGE="$IMAGE_PREFIX/elasticsearch:$ES_VERSION"
STANDIN_LABEL=org.gapipe.standin
HASH_LABEL=org.gapipe.standin.hash

CACHE_DIR=${GAPIPE_INFRA_CACHE:-$HOME/.cache/gapipe-infra}
DOCKERD_PIDFILE="$CACHE_DIR/dockerd.pid"
DOCKERD_LOG="$CACHE_DIR/dockerd.log"
ENV_FILE="$REPO_ROOT/.gapipe-infra.env"
DEFAULT_DOCKER_HOST=unix:///var/run/docker.sock

STEP="setup"

log() { printf '[infra] %s\n' "$*" >&2; }
step() {
  STEP=$1
  printf '\n==> [infra] %s\n' "$STEP" >&2
}
die() {
  printf '[infra] ERROR in step "%s": %s\n' "$STEP" "$*" >&2
  exit 1
}
on_err() {
  local rc=$? cmd=$1 line=$2
  trap - ERR
  die "command failed (exit $rc, ${BASH_SOURCE[1]##*/}:$line): $cmd"
}

# sha256 of stdin, first 16 hex chars
short_hash() { sha256sum | cut -c1-16; }

# Pick a docker CLI: Debian's /usr/bin/docker matches the engine installed here (20.10);
# fall back to whatever is on PATH (e.g. a newer client, which negotiates the API version).
pick_docker_cli() {
  if [[ -x /usr/bin/docker ]]; then
    DOCKER=/usr/bin/docker
  elif command -v docker >/dev/null 2>&1; then
    DOCKER=$(command -v docker)
  else
    DOCKER=
  fi
}

docker_ok() {
  [[ -n ${DOCKER:-} ]] && timeout 20 "$DOCKER" info >/dev/null 2>&1
}

# The dockerd recorded in the pid file, if it is still alive and really a dockerd.
started_dockerd_pid() {
  local pid
  [[ -f $DOCKERD_PIDFILE ]] || return 1
  pid=$(<"$DOCKERD_PIDFILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'dockerd' || return 1
  printf '%s\n' "$pid"
}

image_label() { # image label -> value or empty
  "$DOCKER" image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}
