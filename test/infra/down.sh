#!/usr/bin/env bash
# npm run infra:down [-- --purge]
#   Stops the dockerd that infra:up started (only that one: a Docker engine that was already
#   running is left alone) and removes .gapipe-infra.env when that engine goes away.
#   The stand-in images and the download/rootfs cache are kept, so the next infra:up is fast.
#   --purge also removes the stand-in images (gapipe-standin/*) and the cache directory
#   (${GAPIPE_INFRA_CACHE:-~/.cache/gapipe-infra}), and .gapipe-infra.env.
set -Eeuo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'on_err "$BASH_COMMAND" "$LINENO"' ERR

purge=0
for arg in "$@"; do
  case $arg in
    --purge) purge=1 ;;
    -h | --help)
      sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument: $arg (use --purge or nothing)" ;;
  esac
done

pick_docker_cli
export DOCKER_HOST=${DOCKER_HOST:-$DEFAULT_DOCKER_HOST}
if [[ -f $ENV_FILE ]]; then
  # the engine infra:up used
  env_host=$(sed -n 's/^DOCKER_HOST=//p' "$ENV_FILE" | tail -n1)
  [[ -z $env_host ]] || export DOCKER_HOST=$env_host
fi

if ((purge)); then
  step "remove stand-in images"
  if docker_ok; then
    mapfile -t images < <("$DOCKER" image ls --filter "label=$STANDIN_LABEL=true" --format '{{.ID}}' | sort -u)
    if ((${#images[@]})); then
      # containers still using them (e.g. a lab left running) block removal: say so, carry on
      "$DOCKER" image rm -f "${images[@]}" >/dev/null 2>&1 ||
        log "some stand-in images could not be removed (still used by containers?)"
    fi
    log "removed ${#images[@]} stand-in image(s)"
  else
    log "no Docker engine answers at $DOCKER_HOST: images not removed"
  fi
fi

step "stop the Docker engine started by infra:up"
if pid=$(started_dockerd_pid); then
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  # dockerd stops its containers first (default 15 s grace each, in parallel)
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "dockerd did not stop within 60 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$DOCKERD_PIDFILE" "$ENV_FILE"
  log "dockerd stopped"
else
  rm -f "$DOCKERD_PIDFILE"
  log "infra:up did not start a dockerd that is still running: nothing to stop"
fi

if ((purge)); then
  step "remove the cache"
  rm -f "$ENV_FILE"
  case $CACHE_DIR in
    "" | / | "$HOME" | "$HOME/") die "refusing to remove cache dir '$CACHE_DIR'" ;;
  esac
  if [[ -d $CACHE_DIR ]]; then
    rm -rf --one-file-system "$CACHE_DIR"
    log "removed $CACHE_DIR"
  fi
fi
log "done"
