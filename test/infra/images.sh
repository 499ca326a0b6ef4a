# shellcheck shell=bash
# How the stand-in images are assembled. Sourced by up.sh (after lib.sh); this file's content is
# part of the Kafka and Elasticsearch images' cache keys, so editing it rebuilds them.
#
# Each stand-in is ONE layer made with `docker import --change ...` from the cached JRE base
# rootfs tarball plus the application files. With the vfs storage driver every Dockerfile step
# (even ENV or LABEL) copies the whole root filesystem, so a single import is much faster and
# uses less disk than a `FROM gapipe-standin/jre-base` build, for the same result.

# import_image TAG ROOTDIR CHANGE...  — tar ROOTDIR (numeric owners) into `docker import`.
import_image() {
  local tag=$1 root=$2 old new
  shift 2
  local changes=()
  local c
  for c in "$@"; do changes+=(--change "$c"); done
  old=$("$DOCKER" image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
  tar --numeric-owner -C "$root" -cf - . | "$DOCKER" import "${changes[@]}" - "$tag" >/dev/null
  new=$("$DOCKER" image inspect -f '{{.Id}}' "$tag")
  if [[ -n $old && $old != "$new" ]]; then
    "$DOCKER" image rm "$old" >/dev/null 2>&1 || log "note: previous $tag image $old is still used by a container; left in place"
  fi
}

# stage_base DIR — unpack the base rootfs tarball into DIR (as root, keeping owners).
stage_base() {
  mkdir -p "$1"
  tar --numeric-owner -xzf "$BASE_TARBALL" -C "$1"
}

# java_home_in ROOT — JAVA_HOME path (inside the image) of the JRE in ROOT
java_home_in() {
  local j
  j=$(readlink -f "$1/usr/lib/jvm/java-$BASE_JAVA-openjdk-"*)
  printf '%s\n' "${j#"$1"}"
}

add_user() { # ROOT NAME UID GID HOME
  chroot "$1" groupadd -g "$4" "$2"
  chroot "$1" useradd -u "$3" -g "$4" -d "$5" -m -s /bin/bash "$2"
}

build_kafka_image() { # HASH
  local hash=$1 stage root jhome
  stage=$(mktemp -d "$CACHE_DIR/tmp/kafka.XXXXXX")
  root=$stage/root
  stage_base "$root"
  jhome=$(java_home_in "$root")
  add_user "$root" appuser 1000 1000 /home/appuser

  install -d -o 0 -g 0 -m 755 "$root/opt/kafka/libs" "$root/etc/kafka/docker"
  cp "$KAFKA_LIBS_DIR"/*.jar "$root/opt/kafka/libs/"
  chmod 644 "$root"/opt/kafka/libs/*.jar
  printf '%s\n' "$KAFKA_VERSION" >"$root/opt/kafka/version"
  install -m 755 "$INFRA_DIR/kafka/run" "$root/etc/kafka/docker/run"
  install -m 644 "$INFRA_DIR/kafka/server.properties" "$root/etc/kafka/docker/server.properties"
  # Writable by appuser (and, as in the official image, by group root for arbitrary uids).
  install -d -o 1000 -g 0 -m 775 "$root/opt/kafka/config" "$root/var/lib/kafka" "$root/var/lib/kafka/data" \
    "$root/etc/kafka/secrets" "$root/mnt/shared/config"

  import_image "$KAFKA_IMAGE" "$root" \
    "ENV PATH=/opt/kafka/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "ENV JAVA_HOME=$jhome" \
    "USER appuser" \
    "EXPOSE 9092" \
    "CMD [\"/etc/kafka/docker/run\"]" \
    "LABEL $STANDIN_LABEL=true $HASH_LABEL=$hash org.opencontainers.image.title=kafka org.opencontainers.image.version=$KAFKA_VERSION org.opencontainers.image.description=gapipe-test-stand-in-for-apache/kafka"
  rm -rf --one-file-system "$stage"
}

build_es_image() { # HASH
  local hash=$1 stage root jhome es
  stage=$(mktemp -d "$CACHE_DIR/tmp/es.XXXXXX")
  root=$stage/root
  stage_base "$root"
  jhome=$(java_home_in "$root")
  add_user "$root" elasticsearch 1000 1000 /usr/share/elasticsearch
  # useradd -m created the home dir; the distribution goes there (owned by root, like upstream).
  rm -rf "$root/usr/share/elasticsearch"
  mkdir -p "$stage/unzip"
  unzip -q "$ES_ZIP" -d "$stage/unzip"
  mv "$stage/unzip/elasticsearch-$ES_VERSION" "$root/usr/share/elasticsearch"
  es=$root/usr/share/elasticsearch
  install -m 644 "$INFRA_DIR/elasticsearch/elasticsearch.yml" "$es/config/elasticsearch.yml"
  install -m 755 "$INFRA_DIR/elasticsearch/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
  mkdir -p "$es/data" "$es/logs" "$es/plugins" "$es/config/jvm.options.d"
  chown -R 0:0 "$es"
  chmod -R u=rwX,go=rX "$es"
  chmod 755 "$es"/bin/*
  # config/data/logs writable by uid 1000 and group root (official layout: 1000:0, g=u)
  chown -R 1000:0 "$es/config" "$es/data" "$es/logs"
  chmod -R g=u "$es/config" "$es/data" "$es/logs"
  chmod 775 "$es/config" "$es/data" "$es/logs"
  chroot "$root" usermod -a -G root elasticsearch

  import_image "$ES_IMAGE" "$root" \
    "ENV PATH=/usr/share/elasticsearch/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "ENV ES_JAVA_HOME=$jhome" \
    "ENV ELASTIC_CONTAINER=true" \
    "WORKDIR /usr/share/elasticsearch" \
    "USER 1000:0" \
    "EXPOSE 9200 9300" \
    "ENTRYPOINT [\"/usr/bin/tini\", \"--\", \"/usr/local/bin/docker-entrypoint.sh\"]" \
    "CMD [\"eswrapper\"]" \
    "LABEL $STANDIN_LABEL=true $HASH_LABEL=$hash org.opencontainers.image.title=elasticsearch org.opencontainers.image.version=$ES_VERSION org.opencontainers.image.description=gapipe-test-stand-in-for-elasticsearch"
  rm -rf --one-file-system "$stage"
}
