#!/usr/bin/env bash
# Stop the local services started by up.sh (and a demo egov left running by demo.sh),
# by the pids in .local/run: SIGTERM, up to 30 s grace, then SIGKILL.
#   down.sh           stop; all data is kept
#   down.sh --purge   stop, then delete Kafka and ClickHouse data, logs and rendered configs.
#                     The downloaded Kafka jars (.local/kafka/libs) and the Python venv are
#                     kept: they only depend on pom.xml / tests/requirements.txt.
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

stop_services
if ((purge)); then
  purge_data
fi
