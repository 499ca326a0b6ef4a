#!/usr/bin/env bash
# Entrypoint of the gapipe Elasticsearch stand-in image (built by test/infra/up.sh from the
# integ-test-zip distribution), run under tini. Follows the official image's contract:
#   * environment variables named like settings (lowercase words joined by dots, e.g.
#     discovery.type=single-node, cluster.name=x, http.port=9201) and ES_SETTING_* variables
#     (ES_SETTING_CLUSTER_NAME, "__" for a literal "_") become "-E name=value";
#   * ES_JAVA_OPTS is honoured (default here: -Xms512m -Xmx512m);
#   * ELASTIC_PASSWORD sets the bootstrap password of the elastic user;
#   * *_FILE variables are read from files (bin/elasticsearch-env-from-file);
#   * a first argument other than "eswrapper"/"elasticsearch"/an -option is run as a command.
# The integ-test-zip ships only the x-pack-core and x-pack-security modules, so xpack.* settings
# of other x-pack features would make Elasticsearch refuse to start: they are dropped with a
# notice on stderr. xpack.security.*, xpack.license.* and the feature flags that x-pack-core
# registers (xpack.{ml,watcher,graph,profiling,apm_data,ent_search}.enabled) are passed on.
set -euo pipefail

if [[ $# -eq 0 ]]; then set -- eswrapper; fi
if [[ $1 == eswrapper || $(basename -- "$1") == elasticsearch ]]; then
  shift
elif [[ $1 != -* ]]; then
  exec "$@"
fi

ES_HOME=/usr/share/elasticsearch
cd "$ES_HOME"

set +u
# shellcheck source=/dev/null
source "$ES_HOME/bin/elasticsearch-env-from-file"
set -u

xpack_supported() {
  case $1 in
    xpack.security.* | xpack.license.*) return 0 ;;
    xpack.ml.enabled | xpack.watcher.enabled | xpack.graph.enabled | xpack.profiling.enabled | \
      xpack.apm_data.enabled | xpack.ent_search.enabled) return 0 ;;
    *) return 1 ;;
  esac
}

es_opts=()
while IFS= read -r -d '' kv; do
  key=${kv%%=*}
  value=${kv#*=}
  if [[ $key =~ ^ES_SETTING_([A-Z0-9_]+)$ ]]; then
    name=${BASH_REMATCH[1],,}
    name=${name//__/$'\x01'}
    name=${name//_/.}
    name=${name//$'\x01'/_}
  elif [[ $key =~ ^[a-z0-9_]+(\.[a-z0-9_]+)+$ ]]; then
    name=$key
  else
    continue
  fi
  [[ -n $value ]] || continue
  if [[ $name == xpack.* ]] && ! xpack_supported "$name"; then
    echo "gapipe-standin: ignoring setting $name: its x-pack module is not in this Elasticsearch build (integ-test-zip)" >&2
    continue
  fi
  es_opts+=("-E" "$name=$value")
done < <(env -0 | sort -z)

if [[ -z ${ES_JAVA_OPTS+x} ]]; then
  export ES_JAVA_OPTS="-Xms512m -Xmx512m"
fi

if [[ -n ${ELASTIC_PASSWORD:-} ]]; then
  keystore=$ES_HOME/config/elasticsearch.keystore
  [[ -f $keystore ]] || bin/elasticsearch-keystore create >/dev/null
  if ! bin/elasticsearch-keystore list | grep -qx 'bootstrap.password'; then
    printf '%s' "$ELASTIC_PASSWORD" | bin/elasticsearch-keystore add -x bootstrap.password
  fi
fi

# Signals reach Elasticsearch through tini (PID 1); the CLI stops its server process on SIGTERM.
exec bin/elasticsearch "${es_opts[@]}" "$@" </dev/null
