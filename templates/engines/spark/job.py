"""gapipe's Spark engine: a PySpark Structured Streaming job that reads gapipe's game events from Kafka
and writes 1-minute event-time aggregates to Elasticsearch in the shape gapipe's own consumer writes
(docs/engines.md is the contract), so that `gapipe verify` and `gapipe bench` can check and time it.

    Kafka topic ──► validate (event JSON Schema) ──► invalid: dead-letter topic, with the reason
                        │                                (a second query, every 5 seconds)
                        ▼ valid
                  watermark on ts (10 minutes)
                  dropDuplicatesWithinWatermark(event_id)
                  1-minute tumbling windows per (partition, region, event_type):
                      events, size(collect_set(player_id)), sum(price in cents)
                        │ output mode "update": open windows are rewritten while they fill
                        ▼
                  foreachBatch ──► Elasticsearch bulk, deterministic ids, external versions

Exactly-once effect: Spark replays an unfinished micro-batch from its checkpoint after a crash and
computes the same rows again; each document's id is a function of its cell and its version is the
offset after the last record it includes, so a replayed write lands on the same document and an older
write can never replace a newer one.

Run it (see README.md beside this file):

    spark-submit --master 'local[2]' \
      --packages org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.7 \
      job.py --brokers 127.0.0.1:9092 --topic game-events --es http://127.0.0.1:9200 \
             --index gapipe-aggregates-spark --checkpoint /tmp/gapipe-spark-checkpoint

The event validation below has no Spark in it, so it can be imported and tested alone
(`python3 -c 'import job'` needs nothing but the standard library).
"""

import argparse
import json
import math
import os
import re
import sys
import time
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
# Where the files the job reads live in gapipe's templates/ folder (pass --schema / --index-template
# when the job is copied elsewhere).
DEFAULT_SCHEMA = os.path.join(HERE, "..", "..", "schema", "event.schema.json")
DEFAULT_INDEX_TEMPLATE = os.path.join(HERE, "..", "..", "elasticsearch", "aggregates-template.json")

# ——— event validation ————————————————————————————————————————————————————————————————————————————
#
# The same checks, in the same order, with the same failure kinds and reasons as gapipe's consumer
# (src/pipeline/decode.ts, which validates with ajv): a record goes to the dead-letter topic with the
# same `gapipe-dlq-kind` and `gapipe-dlq-reason` whichever engine read it. The only difference is the
# parser's own message after "not JSON: " (Python's json module words it differently from V8).
#
#   empty          no value, or zero bytes
#   invalid_utf8   bytes that are not UTF-8
#   invalid_json   not JSON
#   schema         not valid against the event schema (reason: the first error, as ajv finds it)
#   bad_timestamp  `ts` has the right shape but is not a calendar date
#   bad_price      `price_usd` too large to count exactly in cents

MAX_SHOWN = 80
MAX_SAFE_INTEGER = 2**53 - 1
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def parse_json(text):
    """JSON.parse, as far as it matters here: every number is a double, NaN and Infinity are not JSON."""
    return json.loads(text, parse_int=float, parse_constant=_reject_constant)


def _is_array_index(key):
    return key.isascii() and key.isdigit() and (key == "0" or key[0] != "0") and int(key) < 2**32 - 1


def js_keys(obj):
    """An object's keys in JavaScript's order: array-index keys ascending first, then the others as written."""
    indices = sorted((k for k in obj if _is_array_index(k)), key=int)
    return indices + [k for k in obj if not _is_array_index(k)]


def js_number(x):
    """Number.prototype.toString of a finite double (5 not 5.0, 1e-7 not 1e-07, 1e+21)."""
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exponent = repr(abs(x)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    power = (int(exponent) if exponent else 0) - len(fraction)
    stripped = digits.rstrip("0")
    power += len(digits) - len(stripped)
    digits = stripped
    k = len(digits)
    n = power + k  # value = 0.digits × 10^n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        text = (digits if k == 1 else digits[0] + "." + digits[1:]) + ("e+" if e >= 0 else "e-") + str(abs(e))
    return sign + text


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _js_string(s):
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def js_stringify(value):
    """JSON.stringify of a parsed value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return js_number(float(value)) if math.isfinite(value) else "null"
    if isinstance(value, str):
        return _js_string(value)
    if isinstance(value, list):
        return "[" + ",".join(js_stringify(v) for v in value) + "]"
    return "{" + ",".join(_js_string(k) + ":" + js_stringify(value[k]) for k in js_keys(value)) + "}"


def _utf16_length(s):
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def shown(value, missing=False):
    """A value as it appears in a reason: JSON, cut to 80 UTF-16 units like JavaScript's slice."""
    if missing:
        text = "undefined"
    elif isinstance(value, float) and not math.isfinite(value):
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    else:
        text = js_stringify(value)
    if _utf16_length(text) > MAX_SHOWN:
        units = text.encode("utf-16-le", "surrogatepass")[: 2 * (MAX_SHOWN - 1)]
        text = units.decode("utf-16-le", "surrogatepass") + "…"
    return text


def _is_number(v):
    return isinstance(v, float) and math.isfinite(v)


# ajv's type checks (strictNumbers: a number must be finite).
_TYPE_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "integer": lambda v: _is_number(v) and v.is_integer(),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
# Keywords ajv groups by the type they apply to; a type with none of them present is checked up front.
_TYPE_GROUPS = {
    "number": ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "multipleOf"),
    "string": ("maxLength", "minLength", "pattern", "format"),
    "object": ("required", "additionalProperties", "properties"),
}
_SUPPORTED = {
    "$schema", "$id", "$defs", "$ref", "title", "description", "format", "type", "const", "enum",
    "pattern", "minLength", "maxLength", "minimum", "properties", "required", "additionalProperties",
    "allOf", "if", "then",
}  # fmt: skip


def _json_equal(a, b):
    """ajv's deep equality: numbers by value, booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


class SchemaError(Exception):
    """The first validation error, as ajv (allErrors: false, verbose: true) reports it."""

    def __init__(self, path, keyword, message, data, schema, params=None, data_missing=False):
        super().__init__(message)
        self.path, self.keyword, self.message = path, keyword, message
        self.data, self.schema, self.params, self.data_missing = data, schema, params or {}, data_missing

    def reason(self):
        """The reason text gapipe's consumer writes (schemaReason in src/pipeline/decode.ts)."""
        where = "" if self.path == "" else f"{self.path} "
        if self.keyword == "const":
            got = shown(self.data, self.data_missing)
            return f"{where}must be equal to constant {shown(self.params['allowedValue'])} (got {got})"
        if self.keyword == "pattern":
            fmt = self.schema.get("format")
            what = f'must match format "{fmt}"' if isinstance(fmt, str) else self.message
            return f"{where}{what} (got {shown(self.data, self.data_missing)})"
        if self.keyword == "additionalProperties":
            extra = self.params["additionalProperty"]
            return f"{where}must NOT have additional properties (got {shown(extra)})"
        whole = self.data_missing or isinstance(self.data, dict)
        if whole and self.keyword != "type":
            return f"{where}{self.message}"
        return f"{where}{self.message} (got {shown(self.data, self.data_missing)})"


def _pointer(key):
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _first(checks):
    """One check out of several, run in order: the first error wins (ajv without allErrors)."""
    if len(checks) == 1:
        return checks[0]

    def check(data):
        for one in checks:
            error = one(data)
            if error is not None:
                return error
        return None

    return check


class EventSchema:
    """
    The keywords event.schema.json uses, compiled once into plain Python checks that run in ajv's
    order, so that the first error found is the one ajv reports. A check returns None or a
    SchemaError whose path is relative to the value checked; the parent prefixes its own part.
    """

    def __init__(self, schema):
        self.root = schema
        self.compiled = {}
        self._check_supported(schema)
        self.check = self._compile(schema)

    def first_error(self, data):
        """None when `data` is valid, else the first SchemaError."""
        return self.check(data)

    def _check_supported(self, node):
        unknown = set(node) - _SUPPORTED
        if unknown:
            raise ValueError(f"the event schema uses keywords this job does not know: {sorted(unknown)}")
        for key, child in node.items():
            if key in ("properties", "$defs"):
                for sub in child.values():
                    self._check_supported(sub)
            elif key in ("if", "then"):
                self._check_supported(child)
            elif key == "allOf":
                for sub in child:
                    self._check_supported(sub)

    def _compile(self, schema):
        if "$ref" in schema:
            # The schema puts nothing but annotations beside its $refs.
            ref = schema["$ref"]
            if ref not in self.compiled:
                node = self.root
                for part in ref.lstrip("#/").split("/"):
                    node = node[part]
                self.compiled[ref] = self._compile(node)
            return self.compiled[ref]
        checks = []
        types = schema.get("type")
        types = [types] if isinstance(types, str) else (types or [])
        deferred = None
        if types:
            single = types[0] if len(types) == 1 else None
            if single in _TYPE_GROUPS and any(k in schema for k in _TYPE_GROUPS[single]):
                deferred = single  # checked with its group, below
            else:
                checks.append(self._type(schema, types))
        # Keywords for any type.
        if "const" in schema:
            checks.append(self._const(schema))
        if "enum" in schema:
            checks.append(self._enum(schema))
        checks.extend(self._compile(sub) for sub in schema.get("allOf", []))
        if "if" in schema and "then" in schema:
            checks.append(self._if_then(schema))
        # Keywords for one type each: numbers, strings, objects.
        if "minimum" in schema or deferred == "number":
            checks.append(self._number(schema, deferred == "number"))
        if any(k in schema for k in ("maxLength", "minLength", "pattern")) or deferred == "string":
            checks.append(self._string(schema, deferred == "string"))
        if any(k in schema for k in ("required", "additionalProperties", "properties")) or deferred == "object":
            checks.append(self._object(schema, deferred == "object"))
        return _first(checks) if checks else (lambda data: None)

    @staticmethod
    def _type(schema, types):
        tests = [_TYPE_CHECKS[t] for t in types]
        message = f"must be {','.join(types)}"

        def check(data):
            for test in tests:
                if test(data):
                    return None
            return SchemaError("", "type", message, data, schema)

        return check

    @staticmethod
    def _const(schema):
        allowed = schema["const"]

        def check(data):
            if _json_equal(data, allowed):
                return None
            return SchemaError("", "const", "must be equal to constant", data, schema, {"allowedValue": allowed})

        return check

    @staticmethod
    def _enum(schema):
        values = schema["enum"]
        strings = frozenset(v for v in values if isinstance(v, str))

        def check(data):
            if type(data) is str and data in strings:
                return None
            if any(_json_equal(data, v) for v in values):
                return None
            return SchemaError("", "enum", "must be equal to one of the allowed values", data, schema)

        return check

    def _if_then(self, schema):
        condition, then = self._compile(schema["if"]), self._compile(schema["then"])

        def check(data):
            return then(data) if condition(data) is None else None

        return check

    @staticmethod
    def _number(schema, typed):
        minimum = schema.get("minimum")
        message = None if minimum is None else f"must be >= {js_number(float(minimum))}"

        def check(data):
            if type(data) is float and math.isfinite(data):
                if minimum is not None and not data >= minimum:
                    return SchemaError("", "minimum", message, data, schema)
                return None
            return SchemaError("", "type", "must be number", data, schema) if typed else None

        return check

    def _string(self, schema, typed):
        longest, shortest = schema.get("maxLength"), schema.get("minLength")
        pattern = schema.get("pattern")
        # ECMAScript's $ (no m flag) matches only at the very end; Python's also before a final newline.
        search = re.compile(re.sub(r"\$$", r"\\Z", pattern)).search if pattern is not None else None

        def check(data):
            if type(data) is str:
                # Lengths in code points, as ajv counts them.
                if longest is not None and len(data) > longest:
                    message = f"must NOT have more than {longest} characters"
                    return SchemaError("", "maxLength", message, data, schema)
                if shortest is not None and len(data) < shortest:
                    message = f"must NOT have fewer than {shortest} characters"
                    return SchemaError("", "minLength", message, data, schema)
                if search is not None and search(data) is None:
                    return SchemaError("", "pattern", f'must match pattern "{pattern}"', data, schema)
                return None
            return SchemaError("", "type", "must be string", data, schema) if typed else None

        return check

    def _object(self, schema, typed):
        required = schema.get("required", [])
        properties = [(name, self._compile(sub)) for name, sub in schema.get("properties", {}).items()]
        known = frozenset(schema.get("properties", {}))
        closed = schema.get("additionalProperties") is False

        def check(data):
            if type(data) is not dict:
                return SchemaError("", "type", "must be object", data, schema) if typed else None
            for name in required:
                if name not in data:
                    message = f"must have required property '{name}'"
                    return SchemaError("", "required", message, data, schema, {"missingProperty": name})
            if closed and not known.issuperset(data):
                extra = next(k for k in js_keys(data) if k not in known)
                return SchemaError(
                    "",
                    "additionalProperties",
                    "must NOT have additional properties",
                    data,
                    schema,
                    {"additionalProperty": extra},
                )
            for name, sub in properties:
                if name in data:
                    error = sub(data[name])
                    if error is not None:
                        error.path = _pointer(name) + error.path
                        return error
            return None

        return check


_DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def iso_timestamp_ms(ts):
    """Epoch ms of YYYY-MM-DDTHH:MM:SS.mmmZ (already matching the schema's pattern), None if no such day."""
    year, month, day = int(ts[0:4]), int(ts[5:7]), int(ts[8:10])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day > (29 if month == 2 and leap else _DAYS_IN_MONTH[month]):
        return None
    # Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil): also for
    # years before 1, which Python's datetime cannot hold.
    y = year - 1 if month <= 2 else year
    era = y // 400
    year_of_era = y - era * 400
    day_of_year = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146097 + day_of_era - 719468
    seconds = int(ts[11:13]) * 3600 + int(ts[14:16]) * 60 + int(ts[17:19])
    return (days * 86400 + seconds) * 1000 + int(ts[20:23])


def js_round(x):
    """Math.round: the nearest integer, halves towards +∞."""
    floor = math.floor(x)
    return floor + 1 if x - floor >= 0.5 else floor


def _text(reason):
    # What Node's UTF-8 encoding of the header makes of a lone surrogate (a reason cut mid-pair).
    return _LONE_SURROGATE.sub("\ufffd", reason)


def _failure(kind, reason):
    return (False, kind, _text(reason), None, None, None, None, None, None)


class EventDecoder:
    """One Kafka record value → (ok, kind, reason, event_id, event_type, ts_ms, player_id, region, price_cents)."""

    def __init__(self, schema):
        self.schema = EventSchema(schema)

    def __call__(self, value):
        if value is None or len(value) == 0:
            return _failure("empty", "the record has no value")
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return _failure("invalid_utf8", f"the value is not valid UTF-8 ({len(value)} bytes)")
        try:
            event = parse_json(text)
        except (ValueError, RecursionError) as error:
            message = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
            return _failure("invalid_json", f"not JSON: {message}")
        error = self.schema.first_error(event)
        if error is not None:
            return _failure("schema", error.reason())
        ts_ms = iso_timestamp_ms(event["ts"])
        if ts_ms is None:
            return _failure("bad_timestamp", f"/ts is not a calendar date (got {shown(event['ts'])})")
        price_cents = 0
        if event["event_type"] == "item_purchase":
            price_cents = js_round(event["price_usd"] * 100)
            if abs(price_cents) > MAX_SAFE_INTEGER:
                reason = f"/price_usd is too large to count in cents (got {shown(event['price_usd'])})"
                return _failure("bad_price", reason)
        return (
            True,
            None,
            None,
            event["event_id"],
            event["event_type"],
            ts_ms,
            event["player_id"],
            event["region"],
            int(price_cents),
        )


# ——— documents ———————————————————————————————————————————————————————————————————————————————————

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def iso_ms(epoch_ms):
    """2026-11-21T20:00:00.000Z, as JavaScript's toISOString writes it."""
    moment = EPOCH + timedelta(milliseconds=epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def document_id(topic, partition, window_start, region, event_type):
    """gapipe's deterministic id: topic:partition:tumbling:window_start:region:event_type."""
    return f"{topic}:{partition}:tumbling:{window_start}:{region}:{event_type}"


def aggregate_document(row, topic, now_iso):
    """One output row of the windowed aggregation → (id, version, document)."""
    window_start = iso_ms(row["window_start_ms"])
    doc = {
        "window_start": window_start,
        "window_end": iso_ms(row["window_end_ms"]),
        "window_kind": "tumbling",
        "region": row["region"],
        "event_type": row["event_type"],
        "partition": row["partition"],
        "topic": topic,
        "events": row["events"],
        "unique_players": row["unique_players"],
        "revenue_usd": row["revenue_cents"] / 100,
        "revenue_cents": row["revenue_cents"],
        "last_offset": row["last_offset"],
        "updated_at": now_iso,
    }
    if row["run_id"] is not None:
        doc["run_id"] = row["run_id"]
    doc_id = document_id(topic, row["partition"], window_start, row["region"], row["event_type"])
    # Content only ever changes by taking in a record further on in the cell's partition.
    return doc_id, row["last_offset"] + 1, doc


# ——— Elasticsearch ———————————————————————————————————————————————————————————————————————————————

MAX_DOCS_PER_BULK = 5000


def log(message):
    print(f"{datetime.now(timezone.utc).strftime('%H:%M:%S')} gapipe-spark {message}", flush=True)


class AggregateWriter:
    """Writes each micro-batch's changed cells; retries what Elasticsearch could not take yet."""

    def __init__(self, es_url, index, topic, template_path, retry_for_s):
        from elasticsearch import Elasticsearch

        # Retries are ours (with backoff, for as long as --es-retry-for); the client fails fast.
        self.es = Elasticsearch(es_url, request_timeout=30, max_retries=0)
        self.es_url, self.index, self.topic = es_url, index, topic
        self.template_path = template_path
        self.retry_for_s = retry_for_s
        # Totals for the progress lines.
        self.written = 0

    def ensure_index(self):
        """Creates the index with the aggregates mapping unless it exists (`gapipe lab up` has a template too)."""
        with open(self.template_path, encoding="utf-8") as f:
            template = json.load(f)["template"]
        if self._retrying("check the index", lambda: self.es.indices.exists(index=self.index)):
            return
        response = self._retrying(
            "create the index",
            lambda: self.es.options(ignore_status=400).indices.create(
                index=self.index, settings=template["settings"], mappings=template["mappings"]
            ),
        )
        error = response.get("error") if hasattr(response, "get") else None
        if error and error.get("type") != "resource_already_exists_exception":
            raise RuntimeError(f"Elasticsearch refused to create index {self.index}: {error}")

    def write_batch(self, batch_df, batch_id):
        rows = [row.asDict() for row in batch_df.collect()]
        now = datetime.now(timezone.utc)
        now_iso = iso_ms(int((now - EPOCH) / timedelta(milliseconds=1)))
        operations = []
        for row in rows:
            doc_id, version, doc = aggregate_document(row, self.topic, now_iso)
            operations.append(
                {"index": {"_index": self.index, "_id": doc_id, "version": version, "version_type": "external"}}
            )
            operations.append(doc)
        stale = 0
        for start in range(0, len(operations), 2 * MAX_DOCS_PER_BULK):
            stale += self._bulk(operations[start : start + 2 * MAX_DOCS_PER_BULK])
        self.written += len(rows) - stale

    def _bulk(self, operations):
        """One bulk request, retried until every item is written or stale; returns the stale count."""

        def attempt():
            response = self.es.bulk(operations=operations)
            stale = 0
            retry = None
            for item in response["items"]:
                result = item["index"]
                status = result["status"]
                if status == 409:
                    stale += 1  # a newer or identical version is already there (a replayed batch)
                elif status == 429 or status >= 500:
                    retry = result.get("error")
                elif status >= 300:
                    raise RuntimeError(f"Elasticsearch rejected a document in {self.index}: {result.get('error')}")
            if retry is not None:
                raise _Retryable(f"Elasticsearch could not take every write: {retry}")
            return stale

        return self._retrying("write aggregates", attempt)

    def _retrying(self, what, action):
        from elastic_transport import ConnectionError as TransportConnectionError
        from elastic_transport import ConnectionTimeout
        from elasticsearch import ApiError

        deadline = time.monotonic() + self.retry_for_s
        backoff = 0.25
        while True:
            try:
                return action()
            except (TransportConnectionError, ConnectionTimeout, _Retryable, ApiError) as error:
                status = getattr(error, "status_code", None) or getattr(getattr(error, "meta", None), "status", None)
                if isinstance(error, ApiError) and status is not None and status < 500 and status != 429:
                    raise
                if time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"Cannot {what} on Elasticsearch at {self.es_url} for {self.retry_for_s}s: {error}"
                    ) from error
                log(f"cannot {what} yet ({error}); retrying in {backoff:.2f}s")
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)


class _Retryable(Exception):
    pass


# ——— the Spark job ———————————————————————————————————————————————————————————————————————————————


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="job.py",
        description="gapipe's Spark Structured Streaming engine: Kafka game events → windowed aggregates in "
        "Elasticsearch, in gapipe's document format.",
    )
    parser.add_argument("--brokers", required=True, help="Kafka bootstrap servers, e.g. 127.0.0.1:9092")
    parser.add_argument("--topic", required=True, help="the events topic")
    parser.add_argument("--es", required=True, help="Elasticsearch URL, e.g. http://127.0.0.1:9200")
    parser.add_argument("--index", default="gapipe-aggregates", help="aggregates index (default: %(default)s)")
    parser.add_argument(
        "--checkpoint", required=True, help="checkpoint directory; keep it to resume where the job stopped"
    )
    parser.add_argument(
        "--dead-letter-topic",
        default=None,
        help="topic for invalid records (default: <topic>-dlq); an empty value drops them instead",
    )
    parser.add_argument(
        "--starting-offsets",
        default="earliest",
        help="where a new checkpoint starts reading: earliest, latest or Spark's JSON (default: %(default)s)",
    )
    parser.add_argument("--max-offsets-per-trigger", type=int, default=None, help="records per micro-batch at most")
    parser.add_argument(
        "--trigger", default=None, help='micro-batch interval, e.g. "1 second" (default: as fast as possible)'
    )
    parser.add_argument(
        "--dead-letter-trigger",
        default="5 seconds",
        help="micro-batch interval of the dead-letter query, which validates every record a second time "
        "(default: %(default)s: fewer, larger batches cost less)",
    )
    parser.add_argument("--watermark", default="10 minutes", help="allowed lateness (default: %(default)s)")
    parser.add_argument("--window", default="1 minute", help="tumbling window length (default: %(default)s)")
    parser.add_argument(
        "--shuffle-partitions",
        type=int,
        default=4,
        help="state partitions; fixed by the checkpoint once it exists (default: %(default)s)",
    )
    parser.add_argument("--schema", default=DEFAULT_SCHEMA, help="the event JSON Schema (gapipe's templates/schema)")
    parser.add_argument(
        "--index-template",
        default=DEFAULT_INDEX_TEMPLATE,
        help="the aggregates index template, for the mapping of a new index (gapipe's templates/elasticsearch)",
    )
    parser.add_argument(
        "--es-retry-for", type=float, default=300, help="seconds to keep retrying Elasticsearch (default: %(default)s)"
    )
    parser.add_argument(
        "--progress-every", type=float, default=10, help="seconds between progress lines (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.dead_letter_topic is None:
        args.dead_letter_topic = f"{args.topic}-dlq"
    return args


DECODED_FIELDS = [
    ("ok", "boolean"),
    ("kind", "string"),
    ("reason", "string"),
    ("event_id", "string"),
    ("event_type", "string"),
    ("ts_ms", "long"),
    ("player_id", "string"),
    ("region", "string"),
    ("price_cents", "long"),
]


def build_queries(spark, args, writer):
    """
    The aggregation query (to Elasticsearch) and the dead-letter query (to Kafka), started. Two queries
    because a query has one sink, and the aggregation's sink sees only aggregated rows: the dead-letter
    query reads and validates the records again, on a slower trigger, since nothing waits for it.
    """
    from pyspark.sql import functions as F

    with open(args.schema, encoding="utf-8") as f:
        decoder = EventDecoder(json.load(f))
    # Declared non-deterministic only so that Spark's optimizer runs it once per record: a deterministic
    # UDF is copied into the filter and into the projection after it, which doubles the Python work.
    decode = F.udf(
        decoder, "struct<" + ",".join(f"{name}:{kind}" for name, kind in DECODED_FIELDS) + ">"
    ).asNondeterministic()

    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", args.brokers)
        .option("subscribe", args.topic)
        .option("startingOffsets", args.starting_offsets)
        .option("includeHeaders", "true")
    )
    if args.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(args.max_offsets_per_trigger))
    records = reader.load().select("topic", "partition", "offset", "key", "value", "headers")
    decoded = records.withColumn("e", decode("value"))

    def trigger(writer_stream):
        return writer_stream.trigger(processingTime=args.trigger) if args.trigger else writer_stream

    run_id = F.expr("try_element_at(filter(headers, h -> h.key = 'gapipe-run-id'), 1).value").cast("string")
    aggregates = (
        decoded.where("e.ok")
        .select(
            "partition",
            "offset",
            F.col("e.event_id").alias("event_id"),
            F.col("e.event_type").alias("event_type"),
            F.col("e.region").alias("region"),
            F.col("e.player_id").alias("player_id"),
            F.col("e.price_cents").alias("price_cents"),
            F.expr("timestamp_millis(e.ts_ms)").alias("event_time"),
            run_id.alias("run_id"),
        )
        .withWatermark("event_time", args.watermark)
        .dropDuplicatesWithinWatermark(["event_id"])
        .groupBy(F.window("event_time", args.window), "partition", "region", "event_type")
        .agg(
            F.count(F.lit(1)).alias("events"),
            F.size(F.collect_set("player_id")).alias("unique_players"),
            F.sum("price_cents").alias("revenue_cents"),
            F.max("offset").alias("last_offset"),
            F.min_by("run_id", "offset").alias("run_id"),
        )
        .select(
            F.expr("unix_millis(window.start)").alias("window_start_ms"),
            F.expr("unix_millis(window.end)").alias("window_end_ms"),
            "partition",
            "region",
            "event_type",
            "events",
            "unique_players",
            "revenue_cents",
            "last_offset",
            "run_id",
        )
    )
    queries = [
        trigger(
            aggregates.writeStream.queryName("aggregates")
            .outputMode("update")
            .option("checkpointLocation", os.path.join(args.checkpoint, "aggregates"))
            .foreachBatch(writer.write_batch)
        ).start()
    ]

    if args.dead_letter_topic:

        def header(name, value):
            return F.struct(F.lit(name).alias("key"), F.encode(value, "UTF-8").alias("value"))

        own_headers = F.coalesce(F.col("headers"), F.array().cast("array<struct<key:string,value:binary>>"))
        dead_letters = decoded.where("NOT e.ok").select(
            "key",
            "value",
            F.concat(
                own_headers,
                F.array(
                    header("gapipe-source-topic", F.col("topic")),
                    header("gapipe-source-partition", F.col("partition").cast("string")),
                    header("gapipe-source-offset", F.col("offset").cast("string")),
                    header("gapipe-dlq-reason", F.col("e.reason")),
                    header("gapipe-dlq-kind", F.col("e.kind")),
                ),
            ).alias("headers"),
        )
        dead_letter_stream = (
            dead_letters.writeStream.queryName("dead-letters")
            .format("kafka")
            .option("kafka.bootstrap.servers", args.brokers)
            .option("topic", args.dead_letter_topic)
            .option("checkpointLocation", os.path.join(args.checkpoint, "dead-letters"))
        )
        if args.dead_letter_trigger:
            dead_letter_stream = dead_letter_stream.trigger(processingTime=args.dead_letter_trigger)
        queries.append(dead_letter_stream.start())
    return queries


class ProgressLog:
    """One line per query and interval, from Spark's progress reports: what the driver log shows."""

    def __init__(self, writer):
        self.seen = {}
        self.writer = writer
        self.written = 0

    def lines(self, queries, interval_s):
        written, self.written = self.writer.written - self.written, self.writer.written
        for query in queries:
            last_seen = self.seen.get(query.name, "")
            fresh = [p for p in query.recentProgress if p["timestamp"] > last_seen and p["numInputRows"] > 0]
            if not fresh:
                continue
            self.seen[query.name] = fresh[-1]["timestamp"]
            records = sum(p["numInputRows"] for p in fresh)
            took = fresh[-1]["durationMs"].get("triggerExecution", 0) / 1000
            watermark = (fresh[-1].get("eventTime") or {}).get("watermark", "-")
            line = (
                f"[{query.name}] {records} records in {len(fresh)} batches in the last {interval_s:.0f}s; "
                f"batch {fresh[-1]['batchId']} took {took:.2f}s; watermark {watermark}"
            )
            yield line + (f"; {written} documents written" if query.name == "aggregates" else "")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.appName(f"gapipe-spark {args.topic}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
        # Streaming queries cannot use adaptive execution; Spark warns at every start when it is on.
        .config("spark.sql.adaptive.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel(os.environ.get("GAPIPE_SPARK_LOG_LEVEL", "WARN"))
    writer = AggregateWriter(args.es, args.index, args.topic, args.index_template, args.es_retry_for)
    writer.ensure_index()
    queries = build_queries(spark, args, writer)
    dlq = args.dead_letter_topic or "(dropped)"
    log(f"reading {args.topic} at {args.brokers} → {args.index} at {args.es}; dead letters → {dlq}")
    log(f"checkpoint {args.checkpoint}; watermark {args.watermark}; windows {args.window}")
    progress = ProgressLog(writer)
    try:
        while True:
            for query in queries:
                if not query.isActive:
                    error = query.exception()
                    if error is not None:
                        log(f"[{query.name}] failed: {error}")
                        return 1
                    log(f"[{query.name}] stopped")
                    return 0
            queries[0].awaitTermination(args.progress_every)
            for line in progress.lines(queries, args.progress_every):
                log(line)
    finally:
        for query in queries:
            if query.isActive:
                query.stop()


if __name__ == "__main__":
    sys.exit(main())
