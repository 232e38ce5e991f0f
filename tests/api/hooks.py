"""Schemathesis hooks of tests/api/schemathesis.sh (loaded via SCHEMATHESIS_HOOKS)."""

import schemathesis

# NDJSON bodies are text, one event per line: send generated strings and the
# documented examples as they are.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
