#!/usr/bin/env bash
# Checks the Prometheus files of deploy/prometheus with promtool (Debian's `prometheus`
# package, installed by deploy/local/up.sh): the scrape config, the alert rules, and the
# rules' unit tests (tests/egov.test.yml). A step of deploy/local/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
command -v promtool >/dev/null || {
  echo "promtool not found: install Debian's prometheus package (deploy/local/up.sh does)" >&2
  exit 1
}
promtool check config prometheus.yml
promtool check rules rules/*.yml
promtool test rules tests/*.test.yml
