#!/usr/bin/env bash
# What the Spark engine needs from the system, installed with apt-get when missing: a Java runtime
# (17; Spark 3.5 also runs on 8 and 11) and a Python 3 whose venv module can create environments
# (Debian ships ensurepip, which venv needs, in python3-venv). When both are there it only checks
# them, in well under a second. `gapipe engine setup spark` does the rest (PySpark and the connector
# jars, cached in ~/.cache/gapipe/spark).
# Usage: bash scripts/spark-prereqs.sh      (installing needs root or sudo, and Debian or Ubuntu)
# Environment: JAVA_HOME and GAPIPE_PYTHON name another Java or Python, as gapipe itself reads them.
set -euo pipefail

log() { printf '[spark-prereqs] %s\n' "$*" >&2; }

java_cmd=java
if [[ -n ${JAVA_HOME:-} ]]; then java_cmd=$JAVA_HOME/bin/java; fi
python_cmd=${GAPIPE_PYTHON:-python3}

java_version() { "$java_cmd" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1; }
# Debian's python3 has venv but not ensurepip until python3-venv is installed; `-m venv` needs both.
python_ok() { "$python_cmd" -c 'import ensurepip, venv, sys; sys.exit(sys.version_info < (3, 8))' 2>/dev/null; }

packages=()
if version=$(java_version) && [[ -n $version ]]; then
  log "Java $version ($(command -v "$java_cmd" || echo "$java_cmd"))"
else
  packages+=(openjdk-17-jre-headless)
fi
if python_ok; then
  log "$("$python_cmd" --version 2>&1) with venv ($(command -v "$python_cmd" || echo "$python_cmd"))"
else
  packages+=(python3 python3-venv)
fi
((${#packages[@]} > 0)) || exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  log "missing: ${packages[*]}, and no apt-get to install them; install a Java 17 runtime and Python 3.8+ with its venv module"
  exit 1
fi
sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null 2>&1 || { log "installing ${packages[*]} needs root or sudo"; exit 1; }
  sudo=(sudo)
fi
apt() { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
log "apt-get update"
apt update -qq >&2
log "apt-get install ${packages[*]}"
apt install -y -qq --no-install-recommends "${packages[@]}" >&2

# What was installed has to work now, or the engine set-up would fail later with a vaguer message.
version=$(java_version) && [[ -n $version ]] || { log "Java still does not run: $java_cmd -version"; exit 1; }
log "Java $version"
python_ok || { log "$python_cmd still cannot create a venv (is GAPIPE_PYTHON another Python?)"; exit 1; }
log "$("$python_cmd" --version 2>&1) with venv"
