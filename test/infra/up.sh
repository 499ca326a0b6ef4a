#!/usr/bin/env bash
# npm run infra:up — make a Docker engine and the gapipe stand-in images available, then write
# .gapipe-infra.env at the repo root. Idempotent; a run with everything cached takes seconds.
# No container registry is needed: images are built locally from Debian packages (debootstrap)
# and Maven Central artifacts. See test/infra/README.md.
#
# Environment: GAPIPE_INFRA_CACHE (default ~/.cache/gapipe-infra), DOCKER_HOST (optional).
# Progress goes to stderr; the env file's content is printed on stdout at the end.
set -Eeuo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$INFRA_DIR/images.sh"
trap 'on_err "$BASH_COMMAND" "$LINENO"' ERR

export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a
START_TIME=$SECONDS

mkdir -p "$CACHE_DIR/tmp" "$CACHE_DIR/rootfs" "$CACHE_DIR/dist"
# One up.sh at a time per cache dir.
exec 9>"$CACHE_DIR/.lock"
if ! flock -w 1800 9; then die "another infra:up holds $CACHE_DIR/.lock"; fi
# Leftovers of an interrupted run.
rm -rf --one-file-system "$CACHE_DIR"/tmp/* 2>/dev/null || true

need_root() {
  [[ $EUID -eq 0 ]] || die "$1 needs root (run as root, or provide the pieces it would build)"
}

APT_UPDATED=0
apt_install() { # packages...
  need_root "installing $*"
  if ((!APT_UPDATED)); then
    log "apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  # Keep package scripts from starting daemons (docker.io would start its own dockerd).
  local guard=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    guard=1
  fi
  local rc=0
  apt-get install -y -qq "$@" >&2 || rc=$?
  if ((guard)); then rm -f /usr/sbin/policy-rc.d; fi
  ((rc == 0)) || die "apt-get install $* failed"
}

debian_mirror() {
  local m=
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    # first deb822 stanza of Types "deb" that carries the suite
    m=$(awk '
      function flush() { if (deb && found && uri != "" && !done) { print uri; done = 1 } deb = found = 0; uri = "" }
      /^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) found = 1 }
      /^[[:space:]]*$/ { flush() }
      END { flush() }' suite="$BASE_SUITE" /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z $m && -f /etc/apt/sources.list ]]; then
    m=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|ftp):/) { print $i; exit } }' /etc/apt/sources.list)
  fi
  printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

# ---------------------------------------------------------------------------------------------
step "1/7 Docker engine"
pick_docker_cli
started_dockerd_pid >/dev/null || rm -f "$DOCKERD_PIDFILE" # stale record of an earlier run
ENGINE_HOST=${DOCKER_HOST:-$DEFAULT_DOCKER_HOST}
export DOCKER_HOST=$ENGINE_HOST
if docker_ok; then
  log "engine reachable at $DOCKER_HOST ($("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null), storage driver $("$DOCKER" info -f '{{.Driver}}' 2>/dev/null))"
else
  if [[ $DOCKER_HOST != "$DEFAULT_DOCKER_HOST" ]]; then
    log "DOCKER_HOST=$DOCKER_HOST does not answer; using a local engine on $DEFAULT_DOCKER_HOST"
    export DOCKER_HOST=$DEFAULT_DOCKER_HOST
    pick_docker_cli
  fi
  if ! docker_ok; then
    need_root "starting a Docker engine"
    if [[ ! -x /usr/sbin/dockerd || ! -x /usr/bin/docker ]]; then
      apt_install docker.io iptables
    fi
    pick_docker_cli
    if pid=$(started_dockerd_pid); then
      log "dockerd started by an earlier infra:up (pid $pid) is running; waiting for it"
    else
      log "starting dockerd --storage-driver=vfs (log: $DOCKERD_LOG)"
      # 9>&-: the daemon must not inherit (and so hold forever) the infra:up lock.
      # Containers inherit dockerd's open-files limit, and a container asking for more (e.g.
      # --ulimit nofile=65536, as Elasticsearch setups do) fails to start: raise it first.
      (
        ulimit -n 1048576 2>/dev/null || true
        exec setsid nohup /usr/sbin/dockerd --storage-driver=vfs >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&-
      ) &
      pid=$!
      printf '%s\n' "$pid" >"$DOCKERD_PIDFILE"
    fi
    for _ in $(seq 1 120); do
      docker_ok && break
      kill -0 "$pid" 2>/dev/null || { tail -n 30 "$DOCKERD_LOG" >&2; rm -f "$DOCKERD_PIDFILE"; die "dockerd exited"; }
      sleep 0.5
    done
    docker_ok || { tail -n 30 "$DOCKERD_LOG" >&2; die "dockerd (pid $pid) does not answer after 60 s"; }
    log "dockerd is up (pid $pid, started by infra:up; npm run infra:down stops it)"
  fi
fi

# ---------------------------------------------------------------------------------------------
step "2/7 JRE base image ($BASE_IMAGE)"
BASE_HASH=$( { cat "$INFRA_DIR/base/build-rootfs.sh"; echo "$BASE_SUITE $BASE_PACKAGES"; } | short_hash)
BASE_TARBALL="$CACHE_DIR/rootfs/jre-base-$BASE_SUITE-$BASE_JAVA-$BASE_HASH.tar.gz"
if [[ -f $BASE_TARBALL ]]; then
  log "rootfs tarball cached: $BASE_TARBALL"
else
  need_root "debootstrap"
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  mirror=$(debian_mirror)
  log "debootstrap $BASE_SUITE ($BASE_PACKAGES) from $mirror"
  bash "$INFRA_DIR/base/build-rootfs.sh" "$BASE_TARBALL" "$mirror" "$BASE_SUITE" "$BASE_PACKAGES" ||
    die "building the base rootfs failed"
  # older tarballs of other base versions are useless now
  find "$CACHE_DIR/rootfs" -maxdepth 1 -name 'jre-base-*.tar.gz' ! -path "$BASE_TARBALL" -delete
fi
if [[ $(image_label "$BASE_IMAGE" "$HASH_LABEL") == "$BASE_HASH" ]]; then
  log "$BASE_IMAGE is up to date"
else
  log "docker import $BASE_IMAGE"
  old=$("$DOCKER" image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)
  "$DOCKER" import \
    --change "LABEL $STANDIN_LABEL=true $HASH_LABEL=$BASE_HASH" \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change 'CMD ["/bin/bash"]' \
    "$BASE_TARBALL" "$BASE_IMAGE" >/dev/null
  if [[ -n $old ]]; then "$DOCKER" image rm "$old" >/dev/null 2>&1 || true; fi
  out=$("$DOCKER" run --rm "$BASE_IMAGE" java -version 2>&1) || die "java does not run in $BASE_IMAGE: $out"
  log "base: ${out%%$'\n'*}"
fi

# ---------------------------------------------------------------------------------------------
step "3/7 Kafka $KAFKA_VERSION and Elasticsearch $ES_VERSION from Maven Central"
POM_HASH=$(short_hash <"$INFRA_DIR/pom.xml")
KAFKA_LIBS_DIR="$CACHE_DIR/kafka-$KAFKA_VERSION-$POM_HASH/libs"
ES_ZIP="$CACHE_DIR/dist/elasticsearch-$ES_VERSION.zip"
goals=()
[[ -f $KAFKA_LIBS_DIR/.complete ]] || goals+=(dependency:copy-dependencies@kafka-libs)
[[ -f $ES_ZIP ]] || goals+=(dependency:copy@es-dist)
if ((${#goals[@]})); then
  command -v mvn >/dev/null 2>&1 || apt_install maven
  out="$CACHE_DIR/tmp/mvn-out"
  rm -rf "$out"
  log "mvn ${goals[*]} (local repository $CACHE_DIR/m2)"
  (cd "$INFRA_DIR" && mvn -B -q -ntp -Dstyle.color=never -f pom.xml \
    -Dmaven.repo.local="$CACHE_DIR/m2" -Dinfra.out="$out" \
    -Dkafka.version="$KAFKA_VERSION" -Delasticsearch.version="$ES_VERSION" \
    "${goals[@]}" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2) || die "mvn failed (see output above)"
  if [[ -d $out/kafka-libs ]]; then
    rm -rf "$(dirname "$KAFKA_LIBS_DIR")"
    mkdir -p "$(dirname "$KAFKA_LIBS_DIR")"
    mv "$out/kafka-libs" "$KAFKA_LIBS_DIR"
    ls "$KAFKA_LIBS_DIR"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null || die "kafka_2.13-$KAFKA_VERSION.jar missing"
    touch "$KAFKA_LIBS_DIR/.complete"
  fi
  if [[ -f $out/dist/elasticsearch-$ES_VERSION.zip ]]; then mv "$out/dist/elasticsearch-$ES_VERSION.zip" "$ES_ZIP"; fi
  rm -rf "$out"
fi
[[ -f $KAFKA_LIBS_DIR/.complete ]] || die "Kafka libraries missing in $KAFKA_LIBS_DIR"
[[ -f $ES_ZIP ]] || die "Elasticsearch zip missing: $ES_ZIP"
log "Kafka: $(find "$KAFKA_LIBS_DIR" -name '*.jar' | wc -l) jars in $KAFKA_LIBS_DIR"
log "Elasticsearch: $ES_ZIP"

# ---------------------------------------------------------------------------------------------
hash_inputs() { # args: literal words and/or files (a file contributes its name and content)
  local f
  for f in "$@"; do
    if [[ -f $f ]]; then printf '%s\n' "$f"; cat "$f"; else printf '%s\n' "$f"; fi
  done | short_hash
}

step "4/7 Kafka stand-in image ($KAFKA_IMAGE)"
KAFKA_HASH=$(hash_inputs "base=$BASE_HASH" "pom=$POM_HASH" "kafka=$KAFKA_VERSION" \
  "$INFRA_DIR/images.sh" "$INFRA_DIR/kafka/run" "$INFRA_DIR/kafka/server.properties")
if [[ $(image_label "$KAFKA_IMAGE" "$HASH_LABEL") == "$KAFKA_HASH" ]]; then
  log "$KAFKA_IMAGE is up to date ($KAFKA_HASH)"
else
  need_root "assembling the image root filesystem"
  log "assembling $KAFKA_IMAGE ($KAFKA_HASH)"
  build_kafka_image "$KAFKA_HASH"
  out=$("$DOCKER" run --rm --entrypoint java "$KAFKA_IMAGE" -cp '/opt/kafka/libs/*' kafka.Kafka --version 2>&1) ||
    die "kafka.Kafka --version fails in $KAFKA_IMAGE: $out"
  log "kafka --version: ${out##*$'\n'}"
fi

step "5/7 Elasticsearch stand-in image ($ES_IMAGE)"
ES_HASH=$(hash_inputs "base=$BASE_HASH" "es=$ES_VERSION" \
  "$INFRA_DIR/images.sh" "$INFRA_DIR/elasticsearch/docker-entrypoint.sh" "$INFRA_DIR/elasticsearch/elasticsearch.yml")
if [[ $(image_label "$ES_IMAGE" "$HASH_LABEL") == "$ES_HASH" ]]; then
  log "$ES_IMAGE is up to date ($ES_HASH)"
else
  need_root "assembling the image root filesystem"
  command -v unzip >/dev/null 2>&1 || apt_install unzip
  log "assembling $ES_IMAGE ($ES_HASH)"
  build_es_image "$ES_HASH"
  # shellcheck disable=SC2016 # expanded inside the container
  out=$("$DOCKER" run --rm "$ES_IMAGE" bash -c 'echo "$(id -un) $("$ES_JAVA_HOME/bin/java" -version 2>&1 | sed -n 1p)"' 2>&1) ||
    die "java does not run in $ES_IMAGE: $out"
  log "elasticsearch image: user and java: $out"
fi

# ---------------------------------------------------------------------------------------------
step "6/7 Chromium for the report's browser test (test/e2e/report.test.ts)"
if [[ -x /usr/bin/chromium ]]; then
  log "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
else
  apt_install chromium
fi

step "7/7 $ENV_FILE"
tmp_env="$ENV_FILE.tmp.$$"
{
  printf 'DOCKER_HOST=%s\n' "$DOCKER_HOST"
  printf 'GAPIPE_KAFKA_IMAGE=%s\n' "$KAFKA_IMAGE"
  printf 'GAPIPE_ELASTICSEARCH_IMAGE=%s\n' "$ES_IMAGE"
} >"$tmp_env"
mv -f "$tmp_env" "$ENV_FILE"
# stand-in images replaced by a rebuild while a container still used them
"$DOCKER" image prune -f --filter "label=$STANDIN_LABEL=true" >/dev/null 2>&1 || true
"$DOCKER" image ls --filter "label=$STANDIN_LABEL=true" --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | sed 's/^/[infra] image /' >&2
log "done in $((SECONDS - START_TIME)) s"
cat "$ENV_FILE"
