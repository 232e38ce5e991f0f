#!/usr/bin/env bash
# The benchmark (not a test): egov against writing straight to Kafka and against ClickHouse's own
# Kafka engine, side by side on this machine in one run. Prints a table and writes
# target/bench/results.json (egov's logs beside it). About 2-4 minutes on 2 cores, plus about 2 for the 2021 scenario of the scorecard phase
# and 15-20 for the ten provinces (about 25 million events) of the country phase (plus the build).
#
#   ./deploy/local/bench.sh                      # everything, default sizes
#   BENCH_EVENTS=100000 BENCH_ROUNDS=1 ./deploy/local/bench.sh
#   ./deploy/local/bench.sh --phases load        # one part only; --help lists every option
#   BENCH_PHASES=country ./deploy/local/bench.sh # country scale only: 10 provinces' 2021, then egov report / scorecard
#
# Sizes and options (environment or flags, see `target/release/egov-bench --help`):
#   BENCH_EVENTS=300000       events per round: to ingest over HTTP, and straight to Kafka
#   BENCH_LOAD_ROWS=1000000   curated rows per round: egov load, and the Kafka engine
#   BENCH_ROUNDS=3            rounds of each throughput measurement (figures are medians)
#   BENCH_FRESH_SECS=30       seconds of offered load at BENCH_FRESH_LOAD (0.5) x the ingest rate
#   BENCH_FRESH_MAX_EVENTS=1500000, BENCH_BATCH=500, BENCH_CLIENTS=8, BENCH_POLL_MS=50
#   BENCH_ABUSE_SECS=20, BENCH_ABUSE_CLIENTS=64   the abuse phase: egov ingest (defaults) under worst-case bodies
#   BENCH_PHASES=raw,alone,run,abuse,load,scorecard,country, BENCH_SCORECARD_DB=DB, BENCH_EGOV_ENV=KEY=VALUE,... (extra env of the egov processes)
#   BENCH_PROVINCES=10, BENCH_COUNTRY_DB=DB   the country phase: provinces, or a database that already holds them
# Kafka and ClickHouse are the local ones (EGOV__KAFKA__BROKERS, EGOV__CLICKHOUSE__URL to change).
# Every topic, consumer group and database the run makes is named bench.<id>.* / egov_bench_<id>*
# and removed at the end (--keep keeps them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

./deploy/local/up.sh
cargo build --release -p egov-cli -p egov-bench
mkdir -p target/bench

pids() { cat .local/run/kafka.pid .local/run/clickhouse.pid 2>/dev/null | tr '\n' ' '; }
before=$(pids)
status=0
target/release/egov-bench "$@" || status=$?
if [[ $(pids) != "$before" ]]; then
  echo "bench.sh: Kafka or ClickHouse was restarted during the run; its figures are not comparable: run it again" >&2
  status=1
fi
exit "$status"
