"""``make bench``: opswatch's ALB flow against baselines measured in the same run.

1. Throughput (records per second of typed JSON) on one generated gzip log of
   ``BENCH_LINES`` lines (default 1,000,000): opswatch ``json`` and ``alb`` modes
   against (a) the Athena regex, (b) csv.reader, (c) gunzip + line iteration.
2. Peak RSS of one process shipping an object of over 500 MB uncompressed
   through ``ship_object`` to a loopback CloudWatch Logs endpoint.
3. Cold start, per function: ``import app`` and that function's handler path as whole
   processes, against ``import boto3`` alone (``bench/coldstart.py``); and the deployment
   package ``chalice package`` builds: its size and file count (``bench/package.py``).
4. The Athena local engine (DuckDB) over the same 1,000,000-line file: ``status_codes``
   and ``slowest_targets`` as whole commands, against ``opswatch alb parse`` of that file.
5. Whole processes: ``opswatch alb parse --format json`` against a script running baseline
   (a), which writes the same JSON, to standard output, paired runs on three kinds of lines of
   ``BENCH_WHOLE_LINES`` (default 300,000): this bench's traffic, lines whose every field is set,
   AWS's documented example lines; how many lines missed the fast path; where the parser's time
   goes, stage by stage; and the peak RSS of ``alb parse`` at 30,000, 300,000 and 1,000,000 lines.
6. What CloudWatch Logs ingests per 1,000,000 requests at ``BENCH_RATE`` requests a second
   (default 100), and the monthly cost at 0.50 USD per GB: ``json``, ``alb``, ``metrics``,
   and ``metrics`` with the 5xx lines; objects cut every 5 minutes, as ALB writes them.
7. Load: ``BENCH_LOAD_LINES`` (default 10,000,000) lines in 20 objects shipped through
   ``ship_object`` to a loopback CloudWatch Logs endpoint that counts every event it
   receives: lines per second, peak RSS, and that every count adds up.
8. CLI start: whole ``opswatch alarms simulate`` and ``opswatch filters test`` processes against
   ``python -c pass`` (``bench/clistart.py``).
9. What an organization costs: 50 accounts x 3 Regions x 10 load balancers at 100 requests a second
   each, from one object shipped in each mode in this run (``bench/organization.py``).

``python -m bench package coldstart clistart organization`` runs only those quick sections; ``python -m bench parser``
runs section 5 alone.
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import baselines, clistart, corpora, organization
from bench.sink import LogsSink, start_sink
from chalicelib.alb.pipeline import LineCounts, render_lines
from chalicelib.alb.reader import file_chunks, iter_lines
from chalicelib.embedded import albtraffic

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
LINES = int(os.environ.get("BENCH_LINES", "1000000"))
BIG_MB = int(os.environ.get("BENCH_BIG_MB", "520"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
WHOLE_LINES = int(os.environ.get("BENCH_WHOLE_LINES", "300000"))
WHOLE_RUNS = int(os.environ.get("BENCH_WHOLE_RUNS", "5"))
RATE = float(os.environ.get("BENCH_RATE", "100"))
USD_PER_GB = 0.50
USD_PER_METRIC = 0.30
SECONDS_PER_MONTH = 30 * 24 * 3600


def make_log(path: Path, count: int, lines=None) -> Path:
    """A gzip log of ``count`` lines (this bench's traffic unless ``lines`` is given), made once."""
    if not path.exists():
        print(f"generating {count:,} lines -> {path.name}", flush=True)
        tmp = path.with_suffix(".tmp")
        if lines is None:
            lines = albtraffic.lines(count, time.time() - 3600, spread_seconds=3000)
        with gzip.open(tmp, "wt", compresslevel=6) as fh:
            for ln in lines:
                fh.write(ln + "\n")
        tmp.rename(path)
    return path


def timed(fn) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = fn()
    return time.perf_counter() - t0, n


def ours(path: Path, fmt: str) -> int:
    sink = []
    with open(path, "rb") as fh:
        counts = render_lines(
            iter_lines(file_chunks(fh)),
            fmt,
            None,
            lambda ts, msg, size: sink.append(size) if len(sink) < 1 else None,
            lambda *a: None,
            LineCounts(),
        )
    assert counts.rejected == 0
    return counts.accepted


def count(gen) -> int:
    n = 0
    for _ in gen:
        n += 1
    return n


def throughput(path: Path) -> dict:
    runs = {
        "opswatch json": lambda: ours(path, "json"),
        "opswatch alb (raw)": lambda: ours(path, "alb"),
        "(a) Athena regex + dict + json.dumps": lambda: count(baselines.regex_records(path)),
        "(b) csv.reader + dict + json.dumps": lambda: count(baselines.csv_records(path)),
        "(c) gunzip + line iteration": lambda: count(baselines.line_iteration(path)),
    }
    # Rounds interleave the variants, so a noisy neighbour slows them alike; each keeps its best round.
    rates: dict[str, float] = {}
    counts: dict[str, int] = {}
    for _ in range(ROUNDS):
        for name, fn in runs.items():
            secs, n = timed(fn)
            rates[name] = max(rates.get(name, 0.0), n / secs)
            counts[name] = n
    for name, rate in rates.items():
        print(f"  {name:<40} {counts[name]:>10,} records {rate:>12,.0f} rec/s (best of {ROUNDS})", flush=True)
    return rates


_SHIP_CHILD = """
import json, resource, sys, time
import boto3
from chalicelib.alb.keys import classify
from chalicelib.alb.pipeline import ship_object
from chalicelib.alb.reader import file_chunks
obj, _ = classify("bench", sys.argv[2])
logs = boto3.client("logs")
t0 = time.perf_counter()
with open(sys.argv[1], "rb") as fh:
    r = ship_object(obj, file_chunks(fh), logs, "/opswatch/bench", sys.argv[3])
print(json.dumps({"lines": r.lines, "shipped": r.shipped, "seconds": time.perf_counter() - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def with_sink(child: str, *args: str) -> dict:
    """Run ``child`` (Python source) in a fresh process whose AWS calls go to a loopback sink; its last JSON line."""
    server = start_sink()
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{server.server_address[1]}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    try:
        r = subprocess.run(
            [sys.executable, "-c", child, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=True
        )
    finally:
        server.shutdown()
    return json.loads(r.stdout.strip().splitlines()[-1])


def peak_rss(path: Path, fmt: str) -> dict:
    key = (
        "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2026/11/26/"
        "123456789012_elasticloadbalancing_us-east-2_app.shop-prod.50dc6c495c0c9188_20261126T1900Z_10.0.0.1_big.log.gz"
    )
    return with_sink(_SHIP_CHILD, str(path), key, fmt)


_LOAD_CHILD = """
import json, resource, sys, time
import boto3
from chalicelib.alb.keys import classify
from chalicelib.alb.pipeline import ship_object
from chalicelib.alb.reader import file_chunks
path, objects = sys.argv[1], int(sys.argv[2])
logs = boto3.client("logs")
t0 = time.perf_counter()
reports = []
for i in range(objects):
    key = ("AWSLogs/123456789012/elasticloadbalancing/us-east-2/2026/11/26/123456789012_elasticloadbalancing_"
           f"us-east-2_app.shop-prod.50dc6c495c0c9188_20261126T1900Z_10.0.0.1_load{i:02d}.log.gz")
    obj, _ = classify("bench", key)
    with open(path, "rb") as fh:
        r = ship_object(obj, file_chunks(fh), logs, "/opswatch/bench", "json")
    reports.append({"lines": r.lines, "shipped": r.shipped, "rejected": r.rejected, "balanced": r.balanced})
print(json.dumps({"seconds": time.perf_counter() - t0, "reports": reports,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def load_run(path: Path, objects: int) -> dict:
    """Ship ``path`` as ``objects`` objects in one process to the counting loopback endpoint."""
    LogsSink.reset()
    out = with_sink(_LOAD_CHILD, str(path), str(objects))
    out["received"] = LogsSink.events
    return out


def command_seconds(*args: str) -> float:
    """Wall time of one ``opswatch`` command, its output thrown away."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "chalicelib.cli.main", *args], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def athena_engine(path: Path) -> dict[str, float]:
    window = ["--param", "start=2000-01-01T00:00:00Z"]
    parse = command_seconds("alb", "parse", str(path))
    out = {"opswatch alb parse": parse}
    for name in ("status_codes", "slowest_targets"):
        out[name] = command_seconds("athena", "run", name, "--engine", "local", "--logs", str(path), *window)
    return out


_BASELINE_A_CHILD = """
import sys
from pathlib import Path
from bench import baselines, corpora
write = sys.stdout.write
for doc in baselines.regex_records(Path(sys.argv[1])):
    write(doc + "\\n")
"""


def run_process(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one process, its output thrown away.

    CPU time is what the process itself spent: on a shared machine it varies far less
    than wall time, which also counts the time other processes held the cores.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):  # 1: some lines rejected, still a whole run
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return wall, usage.ru_utime + usage.ru_stime


_PEAK_CHILD = """
import atexit, runpy, sys
def report():
    with open("/proc/self/status") as fh:
        hwm = next(ln.split()[1] for ln in fh if ln.startswith("VmHWM:"))
    sys.stderr.write(f"VmHWM {hwm}\\n")
atexit.register(report)
sys.argv = ["opswatch", *sys.argv[1:]]
runpy.run_module("chalicelib.cli.main", run_name="__main__")
"""


def parse_peak_rss(path: Path) -> float:
    """Peak RSS in MB of ``opswatch alb parse --format json path``, as the process itself saw it.

    Not the rusage a parent gets from wait4: on Linux that counts the pages of the
    forked parent before the exec (this bench's own 30 MB). VmHWM starts afresh at exec.
    """
    cmd = [sys.executable, "-c", _PEAK_CHILD, "alb", "parse", "--format", "json", str(path)]
    r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    kb = [int(ln.split()[1]) for ln in r.stderr.splitlines() if ln.startswith("VmHWM ")]
    if r.returncode not in (0, 1) or not kb:
        raise RuntimeError(f"alb parse of {path} failed: {r.stderr[-500:]}")
    return kb[-1] / 1024


def parse_cmd(path: Path) -> list[str]:
    return [sys.executable, "-m", "chalicelib.cli.main", "alb", "parse", "--format", "json", str(path)]


def whole_processes(path: Path, runs: int) -> dict:
    """``runs`` pairs of whole processes, ``opswatch alb parse`` then baseline (a), both writing to /dev/null.

    Each pair gives a ratio (baseline time / ours); the median of the pairs is the figure,
    for CPU time and for wall time.
    """
    cpu, wall, ours_cpu, base_cpu = [], [], [], []
    for _ in range(runs):
        w1, c1 = run_process(parse_cmd(path))
        w2, c2 = run_process([sys.executable, "-c", _BASELINE_A_CHILD, str(path)])
        cpu.append(c2 / c1)
        wall.append(w2 / w1)
        ours_cpu.append(c1)
        base_cpu.append(c2)
    return {
        "cpu": statistics.median(cpu),
        "wall": statistics.median(wall),
        "cpu_range": (min(cpu), max(cpu)),
        "ours_cpu": statistics.median(ours_cpu),
        "base_cpu": statistics.median(base_cpu),
    }


def slow_path_count(path: Path) -> tuple[int, int]:
    """Lines of ``path`` and how many of them the parser could not take on its fast path."""
    from chalicelib.alb import parser

    before = parser.slow_path_lines
    n = 0
    with open(path, "rb") as fh:
        for raw in iter_lines(file_chunks(fh)):
            parser.parse_line(raw.decode())
            n += 1
    return n, parser.slow_path_lines - before


def same_output(path: Path, count: int = 20_000) -> bool:
    """Whether baseline (a) writes exactly opswatch's JSON for the first ``count`` lines."""
    import re

    import orjson

    from chalicelib.alb.parser import parse_line

    rx = re.compile(baselines.athena_regex())
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i >= count:
                break
            line = line.rstrip("\n")
            if baselines.regex_doc(rx, line) != orjson.dumps(parse_line(line)).decode():
                return False
    return True


def stage_profile(path: Path, count: int = 200_000) -> list[tuple[str, float]]:
    """Microseconds per line of each stage of ``alb parse --format json``, measured by adding one at a time."""
    import orjson

    from chalicelib.alb.parser import _FULL, parse_line, time_ms

    def lines():
        with open(path, "rb") as fh:
            for i, raw in enumerate(iter_lines(file_chunks(fh))):
                if i >= count:
                    return
                yield raw

    stages = {
        "gunzip and split into lines": lambda raw: None,
        "+ decode UTF-8": lambda raw: raw.decode(),
        "+ the regex match": lambda raw: _FULL.match(raw.decode()),
        "+ groups and building the record": lambda raw: parse_line(raw.decode()),
        "+ time to epoch ms": lambda raw: time_ms(parse_line(raw.decode())["time"]),
        "+ orjson": lambda raw: orjson.dumps(parse_line(raw.decode())),
    }
    best: dict[str, float] = {}
    for _ in range(3):  # interleaved rounds, each stage keeping its best: a noisy neighbour slows them alike
        for name, fn in stages.items():
            t0 = time.perf_counter()
            n = 0
            for raw in lines():
                fn(raw)
                n += 1
            best[name] = min(best.get(name, float("inf")), (time.perf_counter() - t0) / n * 1e6)
    out, before = [], 0.0
    for name, total in best.items():
        out.append((name, max(0.0, total - before)))
        before = total
    return out


def ingestion(count: int) -> dict[str, dict]:
    """Bytes CloudWatch Logs would ingest for ``count`` requests at RATE per second, per shipping mode."""
    import orjson

    from chalicelib.alb.parser import parse_line
    from chalicelib.alb.routemetrics import RouteMetrics

    span = count / RATE
    overhead = 26  # PutLogEvents bills each event's message plus 26 bytes
    sizes = {"json": 0, "alb": 0, "metrics": 0, "metrics + 5xx lines": 0}
    metric_names: set[tuple] = set()
    window, agg = None, None

    def flush() -> None:
        if agg is None:
            return
        for _, doc in agg.documents():
            n = len(orjson.dumps(doc)) + overhead
            sizes["metrics"] += n
            sizes["metrics + 5xx lines"] += n
            metric_names.add((doc["LoadBalancer"], doc["Route"], "TargetLatency" in doc))

    for ln in albtraffic.lines(count, 1_790_000_000, spread_seconds=span):
        rec = parse_line(ln)
        obj = rec["time"][:15]  # ten-minute prefix: cut further below to five minutes
        obj = obj + ("0" if rec["time"][15] < "5" else "5")
        if obj != window:
            flush()
            window, agg = obj, RouteMetrics("opswatch/alb-routes")
        agg.add(rec)
        js = len(orjson.dumps(rec)) + overhead
        sizes["json"] += js
        sizes["alb"] += len(ln.encode()) + overhead
        if (rec["elb_status_code"] or 0) >= 500:
            sizes["metrics + 5xx lines"] += js
    flush()
    routes = {(e, r) for e, r, _ in metric_names}
    metrics = 3 * (len(routes) + 1) + len({x for x in metric_names if x[2]}) + 1
    per_second = {k: v / span for k, v in sizes.items()}
    return {
        k: {
            "bytes_per_million": v * 1_000_000 / count,
            "usd_month": per_second[k] * SECONDS_PER_MONTH / 1e9 * USD_PER_GB,
            "metrics": metrics if k.startswith("metrics") else 0,
        }
        for k, v in sizes.items()
    }


def cold_start_section() -> bool:
    from bench import coldstart

    runs = int(os.environ.get("BENCH_COLD_RUNS", "11"))
    print(f"  cold start per function, whole processes, CPU time ({runs} interleaved rounds, paired medians):")
    return coldstart.report(runs)


def package_section() -> bool:
    import tempfile

    from bench import package

    with tempfile.TemporaryDirectory(prefix="opswatch-package-") as tmp:
        pkg = package.build(Path(tmp))
        forbidden = pkg.forbidden()
        print(
            f"  deployment package (chalice package): {pkg.size / 1e6:.2f} MB, {pkg.files:,} files "
            f"(target <= {package.LIMIT_BYTES / 1e6:g} MB); runtime SDK inside: {', '.join(forbidden) or 'none'}; "
            f"Lambda runtime: {', '.join(sorted(pkg.runtimes))}"
        )
    return pkg.size <= package.LIMIT_BYTES and not forbidden


def parser_section() -> bool:
    """Section 5 (``python -m bench parser``): the parser as whole processes, its fast path, its memory."""
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"\n5. whole processes, {WHOLE_LINES:,} lines each, output to /dev/null: opswatch alb parse --format json")
    print(f"   against baseline (a) as a script, which writes the same JSON; median of {WHOLE_RUNS} paired runs")
    kinds = {
        "make bench's traffic": make_log(OUT / f"alb-{WHOLE_LINES}.log.gz", WHOLE_LINES),
        "every field set": make_log(
            OUT / f"alb-full-{WHOLE_LINES}.log.gz", WHOLE_LINES, corpora.full_lines(WHOLE_LINES, time.time() - 3600)
        ),
        "AWS's documented lines": make_log(
            OUT / f"alb-doc-{WHOLE_LINES}.log.gz", WHOLE_LINES, corpora.doc_lines(WHOLE_LINES)
        ),
    }
    whole = {}
    same = True
    slow = 0
    for name, kind_path in kinds.items():
        res = whole_processes(kind_path, WHOLE_RUNS)
        lines, missed = slow_path_count(kind_path)
        agree = same_output(kind_path)
        same = same and agree
        slow += missed
        whole[name] = res["cpu"]
        lo, hi = res["cpu_range"]
        print(
            f"  {name:<24} opswatch {res['ours_cpu']:5.1f} s, baseline {res['base_cpu']:5.1f} s CPU: "
            f"{res['cpu']:.2f}x (pairs {lo:.2f}x-{hi:.2f}x; wall {res['wall']:.2f}x) (target >= 2); "
            f"slow path {missed:,} of {lines:,} lines; same JSON: {'yes' if agree else 'NO'}"
        )
    print("  where the time goes, microseconds per line (make bench's traffic):")
    for name, us in stage_profile(kinds["make bench's traffic"]):
        print(f"    {name:<36} {us:5.2f}")
    print("  peak RSS of opswatch alb parse --format json (target <= 80 MB, flat):")
    peaks = {}
    for n in (30_000, 300_000, 1_000_000):
        for label, gen in (("traffic", None), ("documented lines", corpora.doc_lines(n))):
            name = f"alb-{n}.log.gz" if gen is None else f"alb-doc-{n}.log.gz"
            f = make_log(OUT / name, n, gen)
            peak = parse_peak_rss(f)
            peaks[(label, n)] = peak
            print(f"    {label:<17} {n:>9,} lines ({f.stat().st_size / 1e6:6.1f} MB gzip): {peak:5.1f} MB")

    return min(whole.values()) >= 2 and same and slow == 0 and max(peaks.values()) <= 80


def organization_section() -> bool:
    print("\n9. what an organization costs (figures measured in this run, multiplied out)")
    return organization.report()


SECTIONS = {
    "organization": organization_section,
    "package": package_section,
    "parser": parser_section,
    "coldstart": cold_start_section,
    "clistart": clistart.report,
}


def main() -> int:
    if sys.argv[1:]:
        unknown = [a for a in sys.argv[1:] if a not in SECTIONS]
        if unknown:
            print(f"unknown section {unknown[0]!r}; the quick sections are {', '.join(SECTIONS)}", file=sys.stderr)
            return 2
        return 0 if all([SECTIONS[a]() for a in sys.argv[1:]]) else 1
    OUT.mkdir(parents=True, exist_ok=True)
    path = make_log(OUT / f"alb-{LINES}.log.gz", LINES)
    print(f"\n1. throughput, {LINES:,} generated lines, {path.stat().st_size / 1e6:.0f} MB gzip")
    rates = throughput(path)
    j, raw = rates["opswatch json"], rates["opswatch alb (raw)"]
    a = rates["(a) Athena regex + dict + json.dumps"]
    b = rates["(b) csv.reader + dict + json.dumps"]
    c = rates["(c) gunzip + line iteration"]
    print(
        f"  json vs (a): {j / a:.2f}x (target >= 3)   json vs (b): {j / b:.2f}x (target >= 1.5)   "
        f"raw vs (c): {raw / c:.2f}x (target >= 0.5)"
    )

    big_lines = BIG_MB * 1_000_000 // 560
    big = make_log(OUT / f"alb-big-{big_lines}.log.gz", big_lines)
    with gzip.open(big, "rb") as fh:
        size = sum(len(x) for x in iter(lambda: fh.read(1 << 20), b""))
    print(f"\n2. peak RSS shipping one object of {size / 1e6:.0f} MB uncompressed to a loopback endpoint")
    rss = {}
    for fmt in ("json", "alb"):
        res = peak_rss(big, fmt)
        rss[fmt] = res["peak_rss_mb"]
        print(
            f"  {fmt:<5} {res['shipped']:>10,} lines shipped in {res['seconds']:.1f} s, "
            f"peak RSS {res['peak_rss_mb']:.0f} MB (target < 150)"
        )

    print("\n3. cold start and the deployment package")
    cold_ok = cold_start_section()
    package_ok = package_section()

    print(f"\n4. Athena local engine (DuckDB) over the {LINES:,}-line file, whole commands")
    engine = athena_engine(path)
    parse = engine.pop("opswatch alb parse")
    print(f"  opswatch alb parse {parse:.1f} s")
    for name, seconds in engine.items():
        print(f"  athena run {name} --engine local {seconds:.1f} s: {seconds / parse:.2f}x the parse")

    parser_ok = parser_section()

    cost_lines = int(os.environ.get("BENCH_COST_LINES", "1000000"))
    print(f"\n6. CloudWatch Logs ingestion, {cost_lines:,} generated requests at {RATE:g} requests/s")
    cost = ingestion(cost_lines)
    base_bytes = cost["json"]["bytes_per_million"]
    print(f"  {'mode':<22} {'MB per 1M requests':>18} {'of json':>8} {'USD/month':>10} {'+ metrics USD/month':>20}")
    for mode, c in cost.items():
        print(
            f"  {mode:<22} {c['bytes_per_million'] / 1e6:>18,.2f} {c['bytes_per_million'] / base_bytes:>8.2%} "
            f"{c['usd_month']:>10,.2f} {c['metrics'] * USD_PER_METRIC:>20,.2f}"
        )
    metrics_share = cost["metrics"]["bytes_per_million"] / base_bytes
    print(f"  metrics ingests {metrics_share:.2%} of json's bytes (target < 2%)")

    load_lines = int(os.environ.get("BENCH_LOAD_LINES", "10000000"))
    objects = 20
    per_object = load_lines // objects
    print(f"\n7. load: {per_object * objects:,} lines in {objects} objects through ship_object (json)")
    load_log = make_log(OUT / f"alb-load-{per_object}.log.gz", per_object)
    load = load_run(load_log, objects)
    lines = sum(r["lines"] for r in load["reports"])
    shipped = sum(r["shipped"] for r in load["reports"])
    adds_up = (
        lines == per_object * objects
        and all(r["balanced"] for r in load["reports"])
        and shipped + sum(r["rejected"] for r in load["reports"]) == lines
        and load["received"] == shipped
    )
    print(
        f"  {lines:,} lines in {load['seconds']:.0f} s: {lines / load['seconds']:,.0f} lines/s, "
        f"peak RSS {load['peak_rss_mb']:.0f} MB (target < 150)"
    )
    print(
        f"  shipped {shipped:,}, endpoint received {load['received']:,} events: "
        + ("every count adds up" if adds_up else "COUNTS DO NOT ADD UP")
    )

    print(f"\n8. CLI start, whole processes (median of {clistart.ROUNDS} paired rounds)")
    cli_ok = clistart.report()
    org_ok = organization_section()

    ok = (
        cli_ok
        and org_ok
        and adds_up
        and load["peak_rss_mb"] < 150
        and j / a >= 3
        and j / b >= 1.5
        and raw / c >= 0.5
        and max(rss.values()) < 150
        and cold_ok
        and package_ok
        and parser_ok
        and metrics_share < 0.02
    )
    print("\nall targets met" if ok else "\nSOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
