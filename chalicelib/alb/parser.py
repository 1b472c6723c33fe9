"""Parse one ALB access-log line into a typed record.

Why hand-written: the hot path of the ALB flow is this function, run once per
request a load balancer served. Two paths, which give the same record:

- the fast path, one anchored regular expression with a group per field, taken by
  every line generation AWS documents (``_full``); its alternatives are atomic, so a
  line that does not match fails in linear time;
- the general path, for the rest: the leading fields by regex, then the line cut at
  its double quotes, token by token.

Together, and unlike the Athena DDL's expression, they accept every generation of the format:

- short early lines that end at ``trace_id``, ``chosen_cert_arn`` or the error reason;
- 2020 lines whose target lists are not quoted, later lines where they are;
- ``TID_...`` connection trace ids and the trailing transform fields;
- fields AWS appends in future (kept under ``extra_fields``, never an error);
- IPv6 addresses, malformed requests (``"- http://host:80- -"``), ``\\"`` inside
  quoted fields and ``\\xNN`` escapes (kept as AWS wrote them).

Numbers become ``int``/``float``, ``-`` becomes ``None``, and ``-1`` timings stay
``-1.0`` (AWS: the request could not be dispatched).

>>> rec = parse_line('http 2018-07-02T22:23:00.186641Z app/lb/50dc 10.0.0.1:2817 - '
...                  '-1 -1 -1 400 - 0 0 "- - -" "-" - - - "-"')
>>> rec["elb_status_code"], rec["target_ip"], rec["request_processing_time"]
(400, None, -1.0)
"""

from __future__ import annotations

import re

from chalicelib.alb.fields import EXTRA_FIELDS, FIELDS

# The first twelve fields, up to the first double quote. IPv6 addresses hold
# colons, so the port is whatever follows the last colon of the address token.
# Named groups: the fast path's record is ``groupdict()``, built in C.
_HEAD = re.compile(
    r"(?P<type>[a-z0-9]++) "
    r"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z) "
    r"(?P<elb>\S++) "
    r"(?>(?P<client_ip>\S+):(?P<client_port>\d{1,5}) )"  # backtracks to the last colon (IPv6), once
    r"(?>-(?= )|(?P<target_ip>\S+):(?P<target_port>\d{1,5})) "
    r"(?P<request_processing_time>-1|\d++(?:\.\d++)?) "
    r"(?P<target_processing_time>-1|\d++(?:\.\d++)?) "
    r"(?P<response_processing_time>-1|\d++(?:\.\d++)?) "
    r"(?>-|(?P<elb_status_code>\d{1,3})) (?>-|(?P<target_status_code>\d{1,3})) "
    r"(?>-|(?P<received_bytes>\d++)) (?>-|(?P<sent_bytes>\d++)) "
)


def _q(name: str) -> str:
    """A quoted field; ``"-"`` and ``""`` leave the group out, so it comes back as None."""
    return rf'(?>"(?:-(?=")|(?P<{name}>[^"]++))?")'


def _bare(name: str, value: str = r'[^\s"]++') -> str:
    """A bare field (no space, no double quote); ``-`` comes back as None."""
    return rf"(?>-(?= )|(?P<{name}>{value}))"


def _full(target_list) -> re.Pattern:
    """Every generation AWS documents, in one match whose named groups are ``FIELDS`` in order.

    Lines that end at trace_id (2016), chosen_cert_arn (2017), lambda_error_reason
    (2018), classification_reason (AWS's 2023 documentation examples), conn_trace_id,
    or the transform fields. A field that is "-" does not take part, so it is None.
    Every alternative is atomic ``(?>...)`` or possessive: a line that does not match
    fails in linear time instead of retrying each "-" field both ways (2^n).
    """
    return re.compile(
        _HEAD.pattern
        # The request: the URL (which may hold spaces) gives back up to the last space.
        + r'(?>"(?>-(?= )|(?P<request_verb>[^ "]++))? (?:-(?= [^ "]*+")|(?P<request_url>[^"]+))? '
        + r'(?>-(?=")|(?P<request_proto>[^ "]++))?") '
        + " ".join([_q("user_agent"), _bare("ssl_cipher"), _bare("ssl_protocol"), _bare("target_group_arn")])
        + " "
        + _q("trace_id")
        + "(?: "
        + " ".join([_q("domain_name"), _q("chosen_cert_arn")])
        + "(?: "
        + " ".join(
            [
                _bare("matched_rule_priority", r"\d++"),
                _bare("request_creation_time"),
                _q("actions_executed"),
                _q("redirect_url"),
                _q("lambda_error_reason"),
            ]
        )
        + "(?: "
        + " ".join(
            [
                target_list("target_port_list"),
                target_list("target_status_code_list"),
                _q("classification"),
                _q("classification_reason"),
            ]
        )
        + "(?: "
        + r'(?>-(?= |$)|(?P<conn_trace_id>[^\s"]++))'
        + "(?: "
        + " ".join([_q("transformed_host"), _q("transformed_uri"), _q("request_transform_status")])
        + ")?)?)?)?)?$"
    )


# Target lists are quoted since 2021; the 2020 lines wrote them bare. Anything else
# (escaped quotes, future fields, odd spacing) goes token by token.
_FULL = _full(_q)
_FULL_2020 = _full(lambda name: _bare(name, r'[^ "]++'))

# Lines parse_line could not take on the fast path, since the process started: every
# line AWS documents takes it (a test), and the bench reports this count.
slow_path_lines = 0

# The original 2016 format ends at trace_id: 18 tokens. Shorter is not an ALB line.
MIN_TOKENS = 18
_KNOWN_TOKENS = 33  # through request_transform_status

# Quoted or bare tokens, for lines whose quoted fields hold escaped quotes.
_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')

HEAD_NAMES = (
    "type",
    "time",
    "elb",
    "client",
    "target",
    "request_processing_time",
    "target_processing_time",
    "response_processing_time",
    "elb_status_code",
    "target_status_code",
    "received_bytes",
    "sent_bytes",
)


class ParseError(ValueError):
    """A line that is not an ALB access-log entry; ``reason`` says where and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _opt(tok: str) -> str | None:
    return None if tok == "-" or tok == "" else tok  # "" only comes from a quoted field: as the fast path


def _num(tok: str, kind: type, name: str, pos: int) -> int | float | None:
    if tok == "-":
        return None
    try:
        return kind(tok)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ParseError(f"field {pos} ({name}): expected {what} or '-', got {_show(tok)}") from None


def _show(tok: str) -> str:
    return repr(tok if len(tok) <= 60 else tok[:57] + "...")


def _tokens(rest: str) -> list[str]:
    """Split what follows the head into tokens: quoted fields keep their spaces."""
    if '\\"' in rest:
        out = []
        pos = 0
        for m in _TOKEN.finditer(rest):
            gap = rest[pos : m.start()]
            if gap.strip():
                raise ParseError(f"unbalanced double quote near {_show(gap.strip())}")
            pos = m.end()
            q = m.group(1)
            out.append(q.replace('\\"', '"').replace("\\\\", "\\") if q is not None else m.group(2))
        if rest[pos:].strip():
            raise ParseError("unbalanced double quote")
        return out
    parts = rest.split('"')
    if not len(parts) & 1:
        raise ParseError("unbalanced double quote: a quoted field is not closed")
    out = parts[0].split()
    for i in range(1, len(parts), 2):
        out.append(parts[i])
        seg = parts[i + 1]
        if seg != " ":
            out.extend(seg.split())
    return out


def _explain_head(line: str) -> str:
    """Say which of the leading fields is wrong, for a line the head pattern refused."""
    toks = line.split(" ", 12)
    checks = (
        (r"[a-z0-9]+", "a request type such as http, https or h2"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z", "an ISO-8601 UTC time"),
        (r"\S+", "a load balancer id"),
        (r"\S+:\d{1,5}", "client ip:port"),
        (r"-|\S+:\d{1,5}", "target ip:port or '-'"),
        (r"-1|\d+(?:\.\d+)?", "seconds or -1"),
        (r"-1|\d+(?:\.\d+)?", "seconds or -1"),
        (r"-1|\d+(?:\.\d+)?", "seconds or -1"),
        (r"-|\d{1,3}", "an HTTP status code or '-'"),
        (r"-|\d{1,3}", "an HTTP status code or '-'"),
        (r"-|\d+", "a byte count or '-'"),
        (r"-|\d+", "a byte count or '-'"),
    )
    for i, ((pattern, what), tok) in enumerate(zip(checks, toks, strict=False)):
        if not re.fullmatch(pattern, tok):
            if not tok and i == len(toks) - 1:
                return f"truncated line: ends inside field {i + 1} ({HEAD_NAMES[i]})"
            return f"field {i + 1} ({HEAD_NAMES[i]}): expected {what}, got {_show(tok)}"
    if len(toks) < 13:
        return f"truncated line: ends after field {len(toks)} ({HEAD_NAMES[len(toks) - 1]})"
    return "the request field does not start with a double quote"


def parse_line(line: str) -> dict:
    """Parse one line (without its newline) into a dict keyed by ``FIELDS``.

    Raises ``ParseError`` with a reason naming the field when the line is not an
    ALB access-log entry.
    """
    if '\\"' not in line:  # an escaped quote would end a quoted field early: token by token
        m = _FULL.match(line) or _FULL_2020.match(line)
        if m is not None:
            return _record(*m.groups())
    global slow_path_lines
    slow_path_lines += 1
    return parse_tokens(line)


def _record(
    a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18,
    a19, a20, a21, a22, a23, a24, a25, a26, a27, a28, a29, a30, a31, a32, a33, a34, a35, a36,
) -> dict:  # fmt: skip
    """The fast path's record: its groups are ``FIELDS`` in order, "-" already None, numbers checked.

    Positional arguments and a dict literal: measured faster than ``groupdict()`` (which
    looks every name up) and than ``dict(zip(FIELDS, groups))`` plus fix-ups.
    """
    return {
        "type": a0,
        "time": a1,
        "elb": a2,
        "client_ip": a3,
        "client_port": int(a4),
        "target_ip": a5,
        "target_port": int(a6) if a6 else None,
        "request_processing_time": float(a7),
        "target_processing_time": float(a8),
        "response_processing_time": float(a9),
        "elb_status_code": int(a10) if a10 else None,
        "target_status_code": int(a11) if a11 else None,
        "received_bytes": int(a12) if a12 else None,
        "sent_bytes": int(a13) if a13 else None,
        "request_verb": a14,
        "request_url": a15,
        "request_proto": a16,
        "user_agent": a17,
        "ssl_cipher": a18,
        "ssl_protocol": a19,
        "target_group_arn": a20,
        "trace_id": a21,
        "domain_name": a22,
        "chosen_cert_arn": a23,
        "matched_rule_priority": int(a24) if a24 else None,
        "request_creation_time": a25,
        "actions_executed": a26,
        "redirect_url": a27,
        "lambda_error_reason": a28,
        "target_port_list": a29,
        "target_status_code_list": a30,
        "classification": a31,
        "classification_reason": a32,
        "conn_trace_id": a33,
        "transformed_host": a34,
        "transformed_uri": a35,
        "request_transform_status": a36,
    }


def parse_tokens(line: str) -> dict:
    """The general path: every format generation, escaped quotes, future fields."""
    m = _HEAD.match(line)
    if m is None or line[m.end() : m.end() + 1] != '"':
        if not line.strip():
            raise ParseError("empty line")
        raise ParseError(_explain_head(line))
    (typ, time, elb, cip, cport, tip, tport, rpt, tpt, rspt, esc, tsc, rb, sb) = m.groups()
    t = _tokens(line[m.end() :])
    n = len(t) + 12
    if n < MIN_TOKENS:
        raise ParseError(f"truncated line: {n} fields, an ALB entry has at least {MIN_TOKENS} (through trace_id)")
    req = t[0]
    verb, _, rest = req.partition(" ")
    url, sp, proto = rest.rpartition(" ")
    if not sp:  # a request with no space at all: keep it whole as the URL
        url, proto = rest, ""
    rec = {
        "type": typ,
        "time": time,
        "elb": elb,
        "client_ip": cip,
        "client_port": int(cport),
        "target_ip": tip,
        "target_port": int(tport) if tport else None,
        "request_processing_time": float(rpt),
        "target_processing_time": float(tpt),
        "response_processing_time": float(rspt),
        "elb_status_code": int(esc) if esc else None,
        "target_status_code": int(tsc) if tsc else None,
        "received_bytes": int(rb) if rb else None,
        "sent_bytes": int(sb) if sb else None,
        "request_verb": verb if verb and verb != "-" else None,
        "request_url": url if url and url != "-" else None,
        "request_proto": proto if proto and proto != "-" else None,
        "user_agent": _opt(t[1]),
        "ssl_cipher": _opt(t[2]),
        "ssl_protocol": _opt(t[3]),
        "target_group_arn": _opt(t[4]),
        "trace_id": _opt(t[5]),
    }
    if n >= _KNOWN_TOKENS:  # the common case: every field present
        rec["domain_name"] = _opt(t[6])
        rec["chosen_cert_arn"] = _opt(t[7])
        rec["matched_rule_priority"] = _num(t[8], int, "matched_rule_priority", 21)
        for name, tok in zip(FIELDS[25:], t[9:21], strict=True):
            rec[name] = None if tok == "-" or tok == "" else tok
        if n > _KNOWN_TOKENS:
            rec[EXTRA_FIELDS] = t[21:]
        return rec
    # An earlier generation: fill what is there, the rest is null.
    for i, name in enumerate(FIELDS[22:], start=6):
        if i >= len(t):
            rec[name] = None
        elif name == "matched_rule_priority":
            rec[name] = _num(t[i], int, name, 21)
        else:
            tok = t[i]
            rec[name] = None if tok == "-" or tok == "" else tok
    return rec


_EPOCH_CACHE: dict[str, int] = {}


def time_ms(time: str) -> int:
    """Epoch milliseconds of an ALB ``time`` value (``2018-07-02T22:23:00.186641Z``).

    Cached per second: an object holds thousands of lines per second of traffic.
    """
    sec = time[:19]
    base = _EPOCH_CACHE.get(sec)
    if base is None:
        from datetime import UTC, datetime

        try:
            base = int(datetime.fromisoformat(sec).replace(tzinfo=UTC).timestamp()) * 1000
        except ValueError:
            raise ParseError(f"field 2 (time): not a valid date and time, got {_show(time)}") from None
        if len(_EPOCH_CACHE) > 100_000:
            _EPOCH_CACHE.clear()
        _EPOCH_CACHE[sec] = base
    try:
        return base + int(time[20:23])  # the usual six-digit fraction
    except ValueError:
        frac = time[20:23].rstrip("Z")
        return base + (int(frac.ljust(3, "0")) if frac.isdigit() else 0)


_QUICK = re.compile(r"[a-z0-9]+ (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z) \S+ \S+:\d{1,5} ")


def quick_time(line: str) -> int:
    """Check a line's leading fields and return its time, without a full parse.

    The raw (``alb``) shipping mode uses this: it ships the line as written, so
    it only needs to know the line is an ALB entry and when it happened.
    """
    m = _QUICK.match(line)
    if m is None:
        if not line.strip():
            raise ParseError("empty line")
        raise ParseError(_explain_head(line))
    return time_ms(m.group(1))
