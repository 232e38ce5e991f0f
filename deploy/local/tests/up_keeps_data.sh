#!/usr/bin/env bash
# up.sh never deletes data unless --purge is given. Runs a second, separate instance of the local
# services (Kafka and ClickHouse in a temp dir, on free ports: EGOV_LOCAL_DIR and
# EGOV_LOCAL_*_PORT), so the instance on the default ports is not touched:
#   1. up.sh, a message into Kafka and a row into ClickHouse;
#   2. down.sh then up.sh: both still there;
#   3. a Kafka log dir up.sh cannot start from (meta.properties gone): up.sh stops, names
#      --purge, and deletes nothing;
#   4. up.sh --purge (services running): both gone, services up again.
# The Kafka jars are those of <repo>/.local (linked, EGOV_TEST_KAFKA_LIBS to use others), or
# resolved by up.sh when there are none. Prints 'N passed, N failed'; exit 1 if any failed.
set -euo pipefail

free_ports() { # $1 ports that nobody listens on now
  python3 -c '
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))' "$1"
}

read -r kafka_port controller_port ch_http_port ch_tcp_port <<<"$(free_ports 4)"
root=$(mktemp -d "${TMPDIR:-/tmp}/egov-up-keeps-data.XXXXXX")
export EGOV_LOCAL_DIR=$root EGOV_LOCAL_KAFKA_PORT=$kafka_port \
  EGOV_LOCAL_KAFKA_CONTROLLER_PORT=$controller_port EGOV_LOCAL_CH_HTTP_PORT=$ch_http_port \
  EGOV_LOCAL_CH_TCP_PORT=$ch_tcp_port
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  "$DEPLOY_DIR/down.sh" >"$root/down.log" 2>&1 || cat "$root/down.log" >&2
  rm -rf "$root"
}
trap cleanup EXIT

jars=${EGOV_TEST_KAFKA_LIBS:-$REPO_ROOT/.local/kafka/libs}
if [[ -f $jars/.stamp ]]; then
  mkdir -p "$KAFKA_DIR"
  ln -s "$jars" "$KAFKA_LIBS"
fi

passed=0
failed=0
check() { # NAME CMD...: one assertion
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    log "ok: $name"
  else
    failed=$((failed + 1))
    log "FAILED: $name"
  fi
}

broker="127.0.0.1:$KAFKA_PORT"
topic=up.keeps.data
message="kept-$$-$RANDOM"
up() { "$DEPLOY_DIR/up.sh" "$@" >>"$root/up.log" 2>&1; }
messages() { kcat -b "$broker" -C -t "$topic" -o beginning -e -q -m 15 2>/dev/null; }
topic_gone() {
  local metadata
  metadata=$(kcat -b "$broker" -L -m 15 2>/dev/null) && ! grep -qF "topic \"$topic\"" <<<"$metadata"
}
row() { ch_http 'SELECT s FROM default.kept' 2>/dev/null; }

log "second instance in $root: kafka $broker, clickhouse 127.0.0.1:$CH_HTTP_PORT"
if ! up; then
  cat "$root/up.log" >&2
  die "up.sh could not start the second instance"
fi
printf '%s\n' "$message" | kcat -b "$broker" -P -t "$topic" -m 15
ch_http 'CREATE TABLE default.kept (s String) ENGINE = TinyLog' >/dev/null
ch_http "INSERT INTO default.kept VALUES ('$message')" >/dev/null
check "the message was written" test "$(messages)" == "$message"

"$DEPLOY_DIR/down.sh" >>"$root/up.log" 2>&1
check "up.sh after down.sh starts" up
check "the Kafka message is still there" test "$(messages)" == "$message"
check "the ClickHouse row is still there" test "$(row)" == "$message"

"$DEPLOY_DIR/down.sh" >>"$root/up.log" 2>&1
mv "$KAFKA_DATA/meta.properties" "$root/meta.properties"
if up; then
  check "up.sh refuses a log dir without meta.properties" false
else
  check "up.sh refuses a log dir without meta.properties" true
fi
check "and says to use --purge" grep -q -- "--purge" "$root/up.log"
check "and deleted nothing" test -d "$KAFKA_DATA/$topic-0"
mv "$root/meta.properties" "$KAFKA_DATA/meta.properties"
check "up.sh starts again once it is back" up
check "with the message" test "$(messages)" == "$message"

check "up.sh --purge starts the running services fresh" up --purge
check "the topic is gone" topic_gone
check "the ClickHouse table is gone" test "$(ch_http "EXISTS TABLE default.kept")" == 0

if ((failed)); then
  log "the output of up.sh:"
  tail -n 60 "$root/up.log" >&2
fi
echo "up_keeps_data: $passed passed, $failed failed"
((failed == 0))
