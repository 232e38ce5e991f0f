#!/usr/bin/env python3
"""Check the contract-v1 JSON Schemas against their examples.

Usage: python3 schemas/check_examples.py          (needs only the stdlib and jsonschema >= 4.0)

What it checks (see schemas/README.md):
  * every schema under v1/ is a valid draft 2020-12 schema, its $id matches its file, and there is
    exactly one payload schema per event_type of the envelope's enum;
  * every example under v1/examples/valid/ passes the envelope schema, then the payload schema of its
    event_type, then the checks the ingest service does in code (emulated here: unit_code in
    seeds/units.csv, occurred_at not before 2000-01-01 and not more than 5 minutes in the future);
  * every example under v1/examples/invalid/ fails with expect.code at expect.path, and nowhere else.
    Examples whose expect has "checked_in_code": true must pass both schemas and fail the emulated
    code checks.

Error paths follow the ingest convention: JSON pointers into the event; a missing required property
is reported at its own path, where it should be ("/event_id", "/payload/due_at"); so is an
unexpected envelope property ("/source").
"""

import csv
import datetime as dt
import json
import re
import sys
from pathlib import Path

try:
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker
except ImportError:  # pragma: no cover
    sys.exit("check_examples.py needs jsonschema >= 4.0: pip install jsonschema")

HERE = Path(__file__).resolve().parent
V1 = HERE / "v1"
UNITS_CSV = HERE.parent / "seeds" / "units.csv"
ID_BASE = "https://egov.vinhphuc.local/schemas/v1/"

# RFC 3339 date-time with a mandatory offset; the same rule as the schemas' pattern, plus a real
# calendar check (30 February fails here, not in the pattern).
RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$"
)
LOWER_BOUND = dt.datetime(2000, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=7)))
FUTURE_SLACK = dt.timedelta(minutes=5)


def parse_rfc3339(value):
    """Return an aware datetime, or raise ValueError."""
    m = RFC3339.match(value)
    if not m:
        raise ValueError("not an RFC 3339 date-time with offset: %r" % value)
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7)
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    if m.group(8) in ("Z", "z"):
        tz = dt.timezone.utc
    else:
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            raise ValueError("bad offset in %r" % value)
        sign = -1 if m.group(9) == "-" else 1
        tz = dt.timezone(sign * dt.timedelta(hours=oh, minutes=om))
    if second == 60:  # leap second: accepted, counted as :59
        second = 59
    return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)


def make_format_checker():
    fc = FormatChecker(formats=())

    @fc.checks("date-time", raises=(ValueError,))
    def _date_time(instance):
        if not isinstance(instance, str):
            return True
        parse_rfc3339(instance)
        return True

    return fc


def pointer(parts):
    out = ""
    for p in parts:
        out += "/" + str(p).replace("~", "~0").replace("/", "~1")
    return out


def error_paths(validator, instance, prefix=""):
    """All errors of instance as (json_pointer, message), following the ingest path convention."""
    found = []
    for err in validator.iter_errors(instance):
        base = prefix + pointer(err.absolute_path)
        if err.validator == "additionalProperties" and err.validator_value is False:
            known = set(err.schema.get("properties", {}))
            patterns = [re.compile(p) for p in err.schema.get("patternProperties", {})]
            extras = [
                k for k in err.instance
                if k not in known and not any(p.search(k) for p in patterns)
            ]
            for k in extras:
                found.append((base + pointer([k]), "unexpected property %r" % k))
        elif err.validator == "required":
            # One error per missing property, each carrying the whole list: name them all, once.
            missing = [k for k in err.validator_value if isinstance(err.instance, dict) and k not in err.instance]
            for k in missing:
                entry = (base + pointer([k]), "missing property %r" % k)
                if entry not in found:
                    found.append(entry)
        else:
            found.append((base, err.message))
    return found


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_unit_codes():
    with open(UNITS_CSV, encoding="utf-8", newline="") as f:
        return {row["code"] for row in csv.DictReader(f)}


class Checker:
    def __init__(self):
        self.problems = []
        fc = make_format_checker()
        env_schema = load_json(V1 / "envelope.schema.json")
        self.check_schema(env_schema, V1 / "envelope.schema.json", ID_BASE + "envelope.schema.json")
        self.envelope = Draft202012Validator(env_schema, format_checker=fc)
        types = env_schema["properties"]["event_type"]["enum"]
        self.payload = {}
        files = sorted((V1 / "payload").glob("*.schema.json"))
        for path in files:
            event_type = path.name[: -len(".schema.json")]
            schema = load_json(path)
            self.check_schema(schema, path, ID_BASE + "payload/" + path.name)
            self.payload[event_type] = Draft202012Validator(schema, format_checker=fc)
        if sorted(types) != sorted(self.payload):
            self.fail("schemas", "event_type enum %s != payload schemas %s" % (sorted(types), sorted(self.payload)))
        self.units = load_unit_codes()
        self.now = dt.datetime.now(dt.timezone.utc)

    def fail(self, where, msg):
        self.problems.append("%s: %s" % (where, msg))

    def check_schema(self, schema, path, expected_id):
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            self.fail(path.name, "not a valid 2020-12 schema: %s" % e.message)
        if schema.get("$id") != expected_id:
            self.fail(path.name, "$id is %r, expected %r" % (schema.get("$id"), expected_id))

    def schema_errors(self, event):
        """Envelope first; the payload schema only when the envelope is valid (its event_type is known)."""
        errs = error_paths(self.envelope, event)
        if errs:
            return errs
        return error_paths(self.payload[event["event_type"]], event["payload"], prefix="/payload")

    def code_errors(self, event):
        """Emulation of the checks the ingest service does in code, for schema-valid events."""
        errs = []
        when = parse_rfc3339(event["occurred_at"])
        if when < LOWER_BOUND:
            errs.append(("invalid", "/occurred_at", "before 2000-01-01"))
        if when > self.now + FUTURE_SLACK:
            errs.append(("invalid", "/occurred_at", "more than 5 minutes in the future"))
        if event["unit_code"] not in self.units:
            errs.append(("unknown_unit", "/unit_code", "not in seeds/units.csv"))
        return errs

    def check_example(self, path, should_pass):
        name = "%s/%s" % (path.parent.name, path.name)
        ex = load_json(path)
        allowed = {"description", "event"} | (set() if should_pass else {"expect"})
        if not isinstance(ex, dict) or not {"description", "event"} <= set(ex) or set(ex) - allowed:
            self.fail(name, "must be an object with keys %s" % sorted(allowed))
            return
        event = ex["event"]
        schema_errs = self.schema_errors(event)
        if should_pass:
            if schema_errs:
                self.fail(name, "expected valid, schema errors: %s" % schema_errs)
                return
            for code, p, msg in self.code_errors(event):
                self.fail(name, "expected valid, code check %s at %r: %s" % (code, p, msg))
            return
        expect = ex.get("expect")
        if not isinstance(expect, dict) or expect.get("code") not in ("invalid", "unknown_unit") \
                or not isinstance(expect.get("path"), str):
            self.fail(name, 'needs "expect": {"code": "invalid"|"unknown_unit", "path": "<pointer>"}')
            return
        if expect.get("checked_in_code"):
            if schema_errs:
                self.fail(name, "checked_in_code but the schemas reject it: %s" % schema_errs)
                return
            got = [(c, p) for c, p, _ in self.code_errors(event)]
            if got != [(expect["code"], expect["path"])]:
                self.fail(name, "code checks gave %s, expected [%s]" % (got, (expect["code"], expect["path"])))
            return
        if expect["code"] != "invalid":
            self.fail(name, "schema-level failures have code invalid")
        if not schema_errs:
            self.fail(name, "expected invalid at %r, but the schemas accept it" % expect["path"])
            return
        wrong = [(p, m) for p, m in schema_errs if p != expect["path"]]
        if wrong:
            self.fail(name, "errors outside the expected path %r: %s" % (expect["path"], wrong))

    def run(self):
        counts = {}
        for sub, should_pass in (("valid", True), ("invalid", False)):
            files = sorted((V1 / "examples" / sub).glob("*.json"))
            counts[sub] = len(files)
            for path in files:
                try:
                    self.check_example(path, should_pass)
                except (ValueError, KeyError, TypeError) as e:
                    self.fail("%s/%s" % (sub, path.name), "cannot check: %r" % e)
        covered = set()
        for path in (V1 / "examples" / "valid").glob("*.json"):
            ev = load_json(path).get("event")
            if isinstance(ev, dict):
                covered.add(ev.get("event_type"))
        missing = sorted(set(self.payload) - covered)
        if missing:
            self.fail("examples", "no valid example for %s" % missing)
        for p in self.problems:
            print("FAIL " + p)
        print("%d schemas, %d valid and %d invalid examples, %d problem(s)"
              % (1 + len(self.payload), counts["valid"], counts["invalid"], len(self.problems)))
        return 1 if self.problems else 0


if __name__ == "__main__":
    sys.exit(Checker().run())
