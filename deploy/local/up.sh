#!/usr/bin/env bash
# Start the local services the pipeline needs, installing whatever is missing first:
#   Kafka 4.x, single-node KRaft    127.0.0.1:9092 (controller 127.0.0.1:9093)
#   ClickHouse (Debian 18.16)       HTTP 127.0.0.1:8123, native 127.0.0.1:9000
# Idempotent: services already running are left alone, dead ones (stale pid file) are restarted.
# State, logs and pid files live in <repo>/.local/ (git-ignored). Stop with down.sh.
#   up.sh           start; never deletes data. Data it cannot start from (e.g. a Kafka log dir
#                   without meta.properties, or formatted for another node) stops it with the
#                   reason instead.
#   up.sh --purge   stop the services if running, delete Kafka and ClickHouse data, logs and
#                   rendered configs (as down.sh --purge), then start fresh.
# Env: EGOV_LOCAL_WAIT_SECS (default 90) bounds the wait for both services to answer.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
case "${1:-}" in
  "") ;;
  --purge) purge=1 ;;
  -h | --help)
    sed -n '2,13s/^# \{0,1\}//p' "$0"
    exit 0
    ;;
  *) die "unknown argument: $1 (usage: up.sh [--purge])" ;;
esac
PURGE_HINT="up.sh never deletes data: move it away, or run deploy/local/up.sh --purge (deletes Kafka and ClickHouse data, then starts fresh)"

WAIT_SECS=${EGOV_LOCAL_WAIT_SECS:-90}

# Copy a template, replacing the @...@ placeholders. Only rewrites when the content changed:
# ClickHouse watches its config files and would reload on every touch.
render() {
  local src=$1 dest=$2 text
  text=$(<"$src")
  # Quoted replacements: bash 5.2 would otherwise expand '&' in a path.
  text=${text//@KAFKA_DATA@/"$KAFKA_DATA"}
  text=${text//@CH_DATA@/"$CH_DATA"}
  text=${text//@LOG_DIR@/"$LOG_DIR"}
  text=${text//@KAFKA_PORT@/"$KAFKA_PORT"}
  text=${text//@KAFKA_CONTROLLER_PORT@/"$KAFKA_CONTROLLER_PORT"}
  text=${text//@CH_HTTP_PORT@/"$CH_HTTP_PORT"}
  text=${text//@CH_TCP_PORT@/"$CH_TCP_PORT"}
  if [[ -f $dest ]] && [[ $(<"$dest") == "$text" ]]; then
    return 0
  fi
  printf '%s\n' "$text" >"$dest.tmp"
  mv "$dest.tmp" "$dest"
}

# Fail unless all of the given ports are free (only checked when our process is not running).
require_free_ports() {
  local name=$1 p hint=""
  shift
  # A fresh apt install of clickhouse-server starts the packaged service where init allows it.
  [[ $name == clickhouse ]] && hint="
If it is the Debian package's own service: systemctl disable --now clickhouse-server"
  for p in "$@"; do
    if port_open "$p"; then
      die "$name: port 127.0.0.1:$p is already served by a process that is not ours (no live pid in $RUN_DIR).
Stop it, or kill it by pid if it is a leftover of an earlier run. Listener: $(port_owner "$p")$hint"
    fi
  done
}

# What start_kafka can do with the log dir $1 under config $2 without deleting anything:
# prints `format` (no dir, or an empty one: a new cluster) or `start` (formatted for this
# node); otherwise prints why it cannot be used and fails.
kafka_storage() {
  local data=$1 conf=$2 have want
  if [[ -f $data/meta.properties ]]; then
    have=$(sed -n 's/^node\.id=//p' "$data/meta.properties")
    want=$(sed -n 's/^node\.id=//p' "$conf")
    if [[ $have != "$want" ]]; then
      echo "is formatted for node.id ${have:-none}, but $conf has node.id $want"
      return 1
    fi
    echo start
  elif [[ ! -e $data ]] || [[ -d $data && -z $(ls -A "$data") ]]; then
    echo format
  else
    echo "holds files but no meta.properties (an interrupted format, or not a Kafka log dir)"
    return 1
  fi
}

start_kafka() {
  local pid cluster_id storage
  if pid=$(live_pid "$KAFKA_PID" "kafka.Kafka $KAFKA_CONF"); then
    log "kafka: already running (pid $pid)"
    return 0
  fi
  rm -f "$KAFKA_PID"
  require_free_ports kafka "${KAFKA_PORTS[@]}"
  local java_opts=(-Xmx512m -Xms256m -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$KAFKA_LOG4J")
  storage=$(kafka_storage "$KAFKA_DATA" "$KAFKA_CONF") || die "kafka: $KAFKA_DATA $storage.
$PURGE_HINT"
  if [[ $storage == format ]]; then
    mkdir -p "$KAFKA_DATA"
    cluster_id=$(java "${java_opts[@]}" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid)
    log "kafka: formatting $KAFKA_DATA (cluster id $cluster_id)"
    if ! java "${java_opts[@]}" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$KAFKA_CONF" --standalone >>"$KAFKA_STDOUT" 2>&1; then
      tail -n 20 "$KAFKA_STDOUT" >&2
      # The dir was empty before: what is there now is this failed format's, nobody's data.
      rm -rf "$KAFKA_DATA"
      die "kafka: storage format failed"
    fi
  fi
  spawn "$KAFKA_PID" "$KAFKA_STDOUT" java "${java_opts[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF"
  log "kafka: started (pid $(<"$KAFKA_PID"))"
}

start_clickhouse() {
  local pid
  if pid=$(live_pid "$CH_PID" "--config-file=$CH_CONF"); then
    log "clickhouse: already running (pid $pid)"
    return 0
  fi
  rm -f "$CH_PID"
  require_free_ports clickhouse "${CH_PORTS[@]}"
  spawn "$CH_PID" "$CH_STDOUT" clickhouse-server "--config-file=$CH_CONF"
  log "clickhouse: started (pid $(<"$CH_PID"))"
}

# kcat blocks for its whole -m timeout while nothing listens; skip it until the port is open.
kafka_ready() { port_open "$KAFKA_PORT" && kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 5 >/dev/null 2>&1; }
clickhouse_ready() { [[ $(ch_http 'SELECT 1' 2>/dev/null) == 1 ]]; }

show_logs() { # name, log files...
  local name=$1 f
  shift
  for f in "$@"; do
    [[ -s $f ]] || continue
    printf -- '--- %s: last lines of %s ---\n' "$name" "$f" >&2
    tail -n 30 "$f" >&2
  done
}

wait_ready() {
  local start=$SECONDS kafka_ok=0 ch_ok=0
  local kafka_logs=("$LOG_DIR/kafka/server.log" "$KAFKA_STDOUT")
  local ch_logs=("$LOG_DIR/clickhouse/clickhouse-server.err.log" "$CH_STDOUT")
  while :; do
    if ((!ch_ok)); then
      if clickhouse_ready; then
        ch_ok=1
        log "clickhouse: answering on 127.0.0.1:$CH_HTTP_PORT / :$CH_TCP_PORT ($((SECONDS - start))s)"
      elif ! live_pid "$CH_PID" "--config-file=$CH_CONF" >/dev/null; then
        show_logs clickhouse "${ch_logs[@]}"
        die "clickhouse: process exited during startup (logs above)"
      fi
    fi
    if ((!kafka_ok)); then
      if kafka_ready; then
        kafka_ok=1
        log "kafka: answering on 127.0.0.1:$KAFKA_PORT ($((SECONDS - start))s)"
      elif ! live_pid "$KAFKA_PID" "kafka.Kafka $KAFKA_CONF" >/dev/null; then
        show_logs kafka "${kafka_logs[@]}"
        die "kafka: process exited during startup (logs above). If they say its storage in
$KAFKA_DATA does not fit (cluster id, node id, metadata version): $PURGE_HINT"
      fi
    fi
    ((kafka_ok && ch_ok)) && return 0
    if ((SECONDS - start >= WAIT_SECS)); then
      ((kafka_ok)) || show_logs kafka "${kafka_logs[@]}"
      ((ch_ok)) || show_logs clickhouse "${ch_logs[@]}"
      die "services not answering after ${WAIT_SECS}s:$( ((kafka_ok)) || echo -n ' kafka')$( ((ch_ok)) || echo -n ' clickhouse')"
    fi
    sleep 1
  done
}

main() {
  local t0=$SECONDS
  # Paths end up in XML and in Kafka's comma-separated log.dirs.
  [[ $REPO_ROOT != *[\&\<\>,]* ]] || die "repo path must not contain & < > or ,: $REPO_ROOT"
  mkdir -p "$RUN_DIR" "$LOG_DIR/kafka" "$LOG_DIR/clickhouse" "$KAFKA_DIR" "$CH_DATA"

  # One up.sh/down.sh at a time. The services never inherit fd 9 (see spawn).
  exec 9>"$RUN_DIR/lock"
  flock -w 600 9 || die "another up.sh/down.sh holds $RUN_DIR/lock"
  if ((purge)); then
    stop_services
    purge_data
    mkdir -p "$LOG_DIR/kafka" "$LOG_DIR/clickhouse" "$CH_DATA"
  fi

  ensure_packages
  ensure_cargo || warn "cargo not found (not even via ~/.cargo/env); test.sh and demo.sh need Rust"
  ensure_kafka_libs

  render "$DEPLOY_DIR/kafka/server.properties.in" "$KAFKA_CONF"
  render "$DEPLOY_DIR/kafka/log4j2.properties.in" "$KAFKA_LOG4J"
  render "$DEPLOY_DIR/clickhouse/config.xml.in" "$CH_CONF"
  render "$DEPLOY_DIR/clickhouse/users.xml.in" "$CH_DIR/users.xml"

  # Run from .local so stray files (JVM crash dumps and the like) land there.
  cd "$LOCAL_DIR"
  start_kafka
  start_clickhouse
  wait_ready

  log "up in $((SECONDS - t0))s: kafka 127.0.0.1:$KAFKA_PORT (pid $(<"$KAFKA_PID")), clickhouse http://127.0.0.1:$CH_HTTP_PORT + 127.0.0.1:$CH_TCP_PORT (pid $(<"$CH_PID"))"
  log "logs: $LOG_DIR   stop: deploy/local/down.sh"
}

main "$@"
