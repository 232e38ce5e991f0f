#!/usr/bin/env bash
# Stop the local services started by up.sh (and a demo egov left running by demo.sh),
# by the pids in .local/run: SIGTERM, up to 30 s grace, then SIGKILL.
#   down.sh           stop; all data is kept
#   down.sh --purge   stop, then delete Kafka and ClickHouse data, logs and rendered configs.
#                     The downloaded Kafka jars (.local/kafka/libs) are kept: they only
#                     depend on pom.xml and re-resolving them is the slow part of up.sh.
#                     For a fully clean slate: rm -rf .local
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
case "${1:-}" in
  "") ;;
  --purge) purge=1 ;;
  -h | --help)
    sed -n '2,9s/^# \{0,1\}//p' "$0"
    exit 0
    ;;
  *) die "unknown argument: $1 (usage: down.sh [--purge])" ;;
esac

[[ -d $LOCAL_DIR ]] || {
  log "nothing to do: $LOCAL_DIR does not exist"
  exit 0
}
mkdir -p "$RUN_DIR"
# Same lock as up.sh so a stop never races a start.
exec 9>"$RUN_DIR/lock"
flock -w 120 9 || die "another up.sh/down.sh holds $RUN_DIR/lock"

# The demo pipeline first: it would otherwise keep retrying against stopped services.
if [[ -e $EGOV_PID ]]; then
  stop_pid "$EGOV_PID" "$EGOV_MARKER" egov-demo 10
fi
# Independent services: stop both at once to halve the wait.
stop_pid "$KAFKA_PID" "kafka.Kafka $KAFKA_CONF" kafka 30 &
kafka_job=$!
stop_pid "$CH_PID" "--config-file=$CH_CONF" clickhouse 30
wait "$kafka_job"

if ((purge)); then
  # Keep the jars; everything else under .local is state of the services we just stopped.
  rm -rf "$KAFKA_DATA" "$KAFKA_CONF" "$KAFKA_LOG4J" "$KAFKA_DIR/libs.tmp" "$CH_DIR" "$LOG_DIR"
  log "purged Kafka data, ClickHouse data, logs and configs under $LOCAL_DIR (kept Kafka jars in $KAFKA_LIBS; rm -rf .local for everything)"
fi
