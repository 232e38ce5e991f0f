#!/usr/bin/env bash
# Stop the cluster started by deploy/cluster/up.sh, by the pids in .local/cluster/run:
# the egov services first (ingest, then transform, then load), then ClickHouse, Kafka and
# ZooKeeper; each SIGTERM, a grace period, then SIGKILL.
#   down.sh           stop; all data is kept
#   down.sh --purge   stop, then delete everything under .local/cluster (data, logs, configs)
# Env: EGOV_CLUSTER_DIR, as up.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
case "${1:-}" in
  "") ;;
  --purge) purge=1 ;;
  -h | --help)
    sed -n '2,7s/^# \{0,1\}//p' "$0"
    exit 0
    ;;
  *) die "unknown argument: $1 (usage: down.sh [--purge])" ;;
esac

[[ -d $CLUSTER_DIR ]] || {
  log "nothing to do: $CLUSTER_DIR does not exist"
  exit 0
}
mkdir -p "$CLUSTER_RUN"
exec 9>"$CLUSTER_RUN/lock"
flock -w 120 9 || die "another up.sh/down.sh holds $CLUSTER_RUN/lock"

# stop_all GRACE NAME...: in parallel, then wait for all.
stop_all() {
  local grace=$1 name jobs=()
  shift
  for name in "$@"; do
    stop_pid "$(pidfile "$name")" "$(marker "$name")" "$name" "$grace" &
    jobs+=($!)
  done
  wait "${jobs[@]}"
}

stop_all 20 ingest-1 ingest-2
stop_all 20 transform-1 transform-2
stop_all 20 load-1 load-2
stop_all 30 clickhouse-s1r1 clickhouse-s1r2 clickhouse-s2r1 clickhouse-s2r2
stop_all 30 kafka-1 kafka-2 kafka-3
stop_all 10 zookeeper
if ((purge)); then
  exec 9>&-
  rm -rf "$CLUSTER_DIR"
  log "purged $CLUSTER_DIR"
fi
