# shellcheck shell=bash disable=SC2034 # variables are used by the scripts that source this
# Shared helpers for the deploy/local scripts. Sourced, never executed.
# Everything the local services write lives under $LOCAL_DIR (<repo>/.local, git-ignored).
# A second, separate instance (deploy/local/tests/up_keeps_data.sh) sets EGOV_LOCAL_DIR and the
# EGOV_LOCAL_*_PORT variables below; nothing else should need them.

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$DEPLOY_DIR/../.." && pwd)"
LOCAL_DIR="${EGOV_LOCAL_DIR:-$REPO_ROOT/.local}"
RUN_DIR="$LOCAL_DIR/run"
LOG_DIR="$LOCAL_DIR/log"

KAFKA_DIR="$LOCAL_DIR/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_CONF="$KAFKA_DIR/server.properties"
KAFKA_LOG4J="$KAFKA_DIR/log4j2.properties"
KAFKA_PID="$RUN_DIR/kafka.pid"
KAFKA_STDOUT="$LOG_DIR/kafka/stdout.log"
KAFKA_PORT=${EGOV_LOCAL_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${EGOV_LOCAL_KAFKA_CONTROLLER_PORT:-9093}
KAFKA_PORTS=("$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT") # client listener, KRaft controller listener

CH_DIR="$LOCAL_DIR/clickhouse"
CH_DATA="$CH_DIR/data"
CH_CONF="$CH_DIR/config.xml"
CH_PID="$RUN_DIR/clickhouse.pid"
CH_STDOUT="$LOG_DIR/clickhouse/stdout.log"
CH_HTTP_PORT=${EGOV_LOCAL_CH_HTTP_PORT:-8123}
CH_TCP_PORT=${EGOV_LOCAL_CH_TCP_PORT:-9000}
CH_PORTS=("$CH_HTTP_PORT" "$CH_TCP_PORT") # HTTP, native

EGOV_PID="$RUN_DIR/egov.pid"
# cargo puts binaries under $CARGO_TARGET_DIR when set (relative = to the repo root, where we build).
EGOV_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[[ $EGOV_TARGET_DIR == /* ]] || EGOV_TARGET_DIR="$REPO_ROOT/$EGOV_TARGET_DIR"
EGOV_BIN="$EGOV_TARGET_DIR/release/egov"
# How a demo instance shows up in /proc/<pid>/cmdline, whatever the target dir.
EGOV_MARKER="release/egov run"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  printf '[%s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2
  exit 1
}
section() { printf '\n========== %s ==========\n' "$*"; }

# Run as root directly, otherwise through sudo (apt needs root).
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# Pid stored in $1, if that process is alive AND its command line contains $2.
# The marker check stops a recycled pid (stale file after reboot) from being taken for ours.
live_pid() {
  local pidfile=$1 marker=$2 pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
  printf '%s\n' "$pid"
}

# True if something accepts TCP connections on 127.0.0.1:$1 (bash /dev/tcp: no extra tools needed).
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Describe who holds a port, best effort (ss may be missing on minimal images).
port_owner() {
  if command -v ss >/dev/null 2>&1; then
    ss -ltnpH "sport = :$1" 2>/dev/null || true
  fi
}

# Start "$@" detached (own session, so Ctrl-C or the end of the calling shell
# does not take it down) with stdout/stderr appended to $2; its pid goes to $1.
# The pid is written by the process itself right before exec, so it is the
# real server pid whether or not setsid had to fork.
# Every inherited fd above 2 is closed first: a long-lived server holding, say, the
# write end of a CI runner's pipe keeps that runner waiting for EOF forever.
spawn() {
  local pidfile=$1 logfile=$2
  shift 2
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # $$, $0 and $@ are meant for the inner shell
  setsid bash -c '
    for fd in /proc/$$/fd/*; do
      fd=${fd##*/}
      ((fd > 2)) && eval "exec $fd>&-"
    done
    echo $$ >"$0"
    exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $pidfile ]] && return 0
    sleep 0.1
  done
  die "could not start: $*"
}

# SIGTERM the process in $1 (if it is ours, per marker $2), wait up to $4 s (default 30),
# then SIGKILL. $3 is a name for messages. Always removes the pid file.
stop_pid() {
  local pidfile=$1 marker=$2 name=$3 grace=${4:-30} pid i
  if ! pid=$(live_pid "$pidfile" "$marker"); then
    log "$name: not running"
    rm -f "$pidfile"
    return 0
  fi
  log "$name: stopping pid $pid (SIGTERM, up to ${grace}s)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    warn "$name: still alive after ${grace}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
  log "$name: stopped"
}

# Put cargo on PATH for non-login shells (CI, cron, scripts).
ensure_cargo() {
  if ! command -v cargo >/dev/null 2>&1 && [[ -f $HOME/.cargo/env ]]; then
    # shellcheck disable=SC1091
    source "$HOME/.cargo/env"
  fi
  command -v cargo >/dev/null 2>&1
}

# cargo-deny, pinned, built once into $LOCAL_DIR/cargo-deny (a re-run finds it at once).
CARGO_DENY_VERSION=0.20.2
CARGO_DENY="$LOCAL_DIR/cargo-deny/bin/cargo-deny"
ensure_cargo_deny() {
  if [[ -x $CARGO_DENY ]] && "$CARGO_DENY" --version | grep -qF "$CARGO_DENY_VERSION"; then
    return 0
  fi
  log "installing cargo-deny $CARGO_DENY_VERSION into $LOCAL_DIR/cargo-deny (a build of several minutes)"
  cargo install --locked cargo-deny --version "$CARGO_DENY_VERSION" --root "$LOCAL_DIR/cargo-deny"
}

# Connection settings for egov (tests and demo); caller-provided values win.
export_egov_env() {
  export EGOV__KAFKA__BROKERS="${EGOV__KAFKA__BROKERS:-127.0.0.1:9092}"
  export EGOV__CLICKHOUSE__URL="${EGOV__CLICKHOUSE__URL:-http://127.0.0.1:8123}"
}

ch_http() { # $1 = SQL; prints the result, fails on HTTP error
  curl -sf --max-time 5 --data-binary "$1" "http://127.0.0.1:$CH_HTTP_PORT/"
}

# Stops the services of $LOCAL_DIR (and a demo egov left by demo.sh): SIGTERM, up to 30 s, SIGKILL.
# The caller holds $RUN_DIR/lock.
stop_services() {
  local kafka_job
  # The demo pipeline first: it would otherwise keep retrying against stopped services.
  if [[ -e $EGOV_PID ]]; then
    stop_pid "$EGOV_PID" "$EGOV_MARKER" egov-demo 10
  fi
  # Independent services: stop both at once to halve the wait.
  stop_pid "$KAFKA_PID" "kafka.Kafka $KAFKA_CONF" kafka 30 &
  kafka_job=$!
  stop_pid "$CH_PID" "--config-file=$CH_CONF" clickhouse 30
  wait "$kafka_job"
}

# Deletes the data, logs and rendered configs of the stopped services; keeps the Kafka jars
# (they only depend on pom.xml and resolving them is the slow part of up.sh) and the venv.
purge_data() {
  rm -rf "$KAFKA_DATA" "$KAFKA_CONF" "$KAFKA_LOG4J" "$KAFKA_DIR/libs.tmp" "$CH_DIR" "$LOG_DIR"
  log "purged Kafka data, ClickHouse data, logs and configs under $LOCAL_DIR (kept Kafka jars in $KAFKA_LIBS; rm -rf $LOCAL_DIR for everything)"
}

# The Python tools of the test suite (tests/sql/check_sql.py, tests/api/schemathesis.sh,
# schemas/check_examples.py) run from a virtual environment with the pinned versions of
# tests/requirements.txt. It is (re)built only when that file changed (a stamp holds its hash).
VENV_DIR="$LOCAL_DIR/venv"
VENV_PYTHON="$VENV_DIR/bin/python"
PY_REQUIREMENTS="$REPO_ROOT/tests/requirements.txt"

# Creates or updates $VENV_DIR, then puts its bin/ first on PATH.
ensure_venv() {
  local stamp="$VENV_DIR/.requirements.sha256" want
  want=$(sha256sum "$PY_REQUIREMENTS" | cut -d' ' -f1)
  mkdir -p "$LOCAL_DIR"
  {
    # One installer at a time (test.sh and schemathesis.sh may both get here).
    flock -w 900 8 || die "another process holds $LOCAL_DIR/venv.lock"
    if [[ ! -x $VENV_PYTHON || $(cat "$stamp" 2>/dev/null) != "$want" ]]; then
      log "python: installing tests/requirements.txt into $VENV_DIR"
      # From scratch: nothing of an earlier set of versions lingers.
      rm -rf "$VENV_DIR"
      python3 -m venv "$VENV_DIR" ||
        die "python3 -m venv failed (on Debian it needs python3-venv, which up.sh installs)"
      "$VENV_PYTHON" -m pip install --quiet --disable-pip-version-check -r "$PY_REQUIREMENTS" ||
        die "pip could not install $PY_REQUIREMENTS into $VENV_DIR"
      echo "$want" >"$stamp"
    fi
  } 8>"$LOCAL_DIR/venv.lock"
  export PATH="$VENV_DIR/bin:$PATH"
}

# Installing what is missing: used by deploy/local/up.sh and deploy/cluster/up.sh.
# Build deps of rdkafka's bundled librdkafka (cmake-build) + the services + tools the scripts use
# (prometheus for promtool: deploy/prometheus/check.sh; zookeeper's jars for ClickHouse
# replication in tests/replicas.rs and deploy/cluster; chromium for the dashboard's browser
# test, crates/egov-cli/tests/dashboard.rs).
APT_PACKAGES=(
  cmake libcurl4-openssl-dev libsasl2-dev libssl-dev zlib1g-dev libzstd-dev pkg-config
  clickhouse-server clickhouse-client kcat curl python3 python3-venv prometheus zookeeper chromium
)

ensure_packages() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    # shellcheck disable=SC2016 # ${Status} is a dpkg-query format field
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  # Java and Maven only need to be callable; they may come from outside apt.
  command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
  ((${#missing[@]} == 0)) && return 0
  log "installing missing packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

# Kafka jars come from Maven Central via deploy/local/pom.xml. The stamp records the pom's
# hash and the jar count, and is written last, so an interrupted download is redone.
ensure_kafka_libs() {
  local pom="$DEPLOY_DIR/pom.xml" stamp="$KAFKA_LIBS/.stamp" want have count tmp pid
  want=$(sha256sum "$pom" | cut -d' ' -f1)
  if [[ -f $stamp ]] && read -r have count <"$stamp" && [[ $have == "$want" ]] &&
    (($(find "$KAFKA_LIBS/" -maxdepth 1 -name '*.jar' | wc -l) == count)); then
    return 0
  fi
  if pid=$(live_pid "$KAFKA_PID" "kafka.Kafka $KAFKA_CONF"); then
    # Swapping jars under a running JVM breaks it; pick the new ones up on the next start.
    warn "kafka jars are out of date but Kafka (pid $pid) is running; run down.sh then up.sh to update"
    return 0
  fi
  log "kafka: resolving jars from Maven Central (deploy/local/pom.xml)"
  tmp="$KAFKA_DIR/libs.tmp"
  rm -rf "$tmp"
  # Output goes to a log and is shown only on failure (-q still prints colour codes).
  if ! mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
    -DoutputDirectory="$tmp" -DincludeScope=runtime >"$LOG_DIR/mvn.log" 2>&1; then
    tail -n 40 "$LOG_DIR/mvn.log" >&2
    die "mvn could not resolve the Kafka jars (output above, full log $LOG_DIR/mvn.log)"
  fi
  compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "mvn finished but no kafka_2.13 jar in $tmp"
  count=$(find "$tmp" -maxdepth 1 -name '*.jar' | wc -l)
  echo "$want $count" >"$tmp/.stamp"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  log "kafka: $count jars in $KAFKA_LIBS"
}
