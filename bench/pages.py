"""Agent workspace pages under load (`make bench-pages`): the queue, its HTMX partial and the
ticket page, served by gunicorn from PostgreSQL with 100,000 tickets, against the framework floor.

The floor is measured in the same run, on the same server and database: a minimal view that
renders a template with 50 ticket rows from one query (`bench/pages_urls.py`). For every page
the script prints p50 / p95 latency and requests per second, and the throughput as a share of
the floor's. Targets (issue 6): queue p95 ≤ 100 ms and ≥ 40 % of the floor's throughput.

    python bench/pages.py                       # 100,000 tickets, 1 worker and 1 client per CPU
    python bench/pages.py --tickets 100000 --requests 600 --workers 4 --concurrency 4

The database (default postgres://postgres@127.0.0.1:5432/caretickets_bench_pages) is created,
migrated and filled with `manage.py generate_tickets` when it holds fewer tickets than asked;
later runs reuse it. The script refuses a database whose name does not contain "bench".
"""

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/caretickets_bench_pages"
os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.pages_settings"

import psycopg  # noqa: E402

QUEUE_P95_TARGET_MS = 100.0
QUEUE_FLOOR_SHARE_TARGET = 0.40


def log(message: str) -> None:
    print(message, flush=True)


def ensure_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"Refusing to fill {name!r} with benchmark tickets: use a database named *bench*.")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def prepare(tickets: int, username: str) -> dict:
    """Migrate, fill up to `tickets`, and return what the client needs (session, URLs)."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connection

    from apps.tickets.demo import demo_organisation_ensure, demo_users_ensure
    from apps.tickets.models import Ticket
    from apps.tickets.selectors import ticket_visible_qs

    if not settings.IS_POSTGRES:
        sys.exit("bench/pages.py measures PostgreSQL: set DATABASE_URL=postgres://…/…bench…")
    call_command("migrate", verbosity=0)
    # As deployed: WhiteNoise serves the collected files (and warns in every worker without them).
    call_command("collectstatic", interactive=False, verbosity=0)
    # The demo team and its people first, so generated tickets get assignees and audit actors.
    demo_users_ensure(demo_organisation_ensure())
    have = Ticket.objects.count()
    if have < tickets:
        log(f"generating {tickets - have:,} tickets (have {have:,})…")
        call_command("generate_tickets", tickets - have, seed=have)
    with connection.cursor() as cur:
        # What autovacuum does on a live database: statistics, and the visibility map that lets
        # the queue count from its covering index.
        cur.execute("VACUUM ANALYZE")
    user = get_user_model().objects.get(username=username)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    visible = ticket_visible_qs(user)
    active = visible.filter(state__in=["new", "open", "pending_customer", "escalated"])
    sample = list(active.order_by("?").values_list("pk", flat=True)[:200])
    return {
        "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
        "tickets": Ticket.objects.count(),
        "visible": visible.count(),
        "active": active.count(),
        "sample": sample,
        "user": user,
    }


def query_counts(info: dict, scenarios: list) -> dict[str, int]:
    """SQL statements per page, counted in-process with the test client (same code, same data)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(info["user"])
    counts = {}
    for scenario in scenarios:
        path = scenario.path(0)
        with CaptureQueriesContext(connection) as ctx:
            client.get(path, headers=scenario.headers)
        counts[scenario.name] = len(ctx.captured_queries)
    return counts


@dataclass
class Scenario:
    name: str
    paths: list[str]
    headers: dict

    def path(self, i: int) -> str:
        return self.paths[i % len(self.paths)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.pages_settings", "PYTHONPATH": str(ROOT)}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    process = subprocess.Popen(
        [str(gunicorn), "caretickets.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--worker-class", "sync", "--log-level", "warning",
         "--chdir", str(ROOT)],
        env=env, start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    stop(process)
    sys.exit("gunicorn did not start")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def fetch(port: int, path: str, headers: dict) -> float:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    elapsed = time.perf_counter() - started
    if response.status != 200 or not body:
        raise RuntimeError(f"GET {path} answered {response.status}")
    return elapsed


def run(port: int, scenario: Scenario, cookie: str, *, requests: int, concurrency: int) -> tuple:
    """`requests` GETs from `concurrency` threads: (latencies in seconds, wall-clock seconds)."""
    headers = {"Cookie": cookie, **scenario.headers}
    counter = iter(range(requests))
    lock = threading.Lock()
    latencies: list[float] = []

    def worker():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            seconds = fetch(port, scenario.path(i), headers)
            with lock:
                latencies.append(seconds)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    return latencies, time.perf_counter() - started


def summarize(latencies: list[float], wall: float) -> dict:
    latencies = sorted(latencies)
    return {
        "p50": statistics.median(latencies) * 1000,
        "p95": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
        "rps": len(latencies) / wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=600, help="Measured requests per page.")
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3,
                        help="Pages take turns in this many rounds, so a busy moment on the machine "
                             "does not fall on one page only.")
    parser.add_argument("--workers", type=int, default=max(2, os.cpu_count() or 1),
                        help="gunicorn sync workers (default: one per CPU; the pages are CPU-bound, "
                             "more workers than cores only queue requests inside the server).")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="Client threads, bounded (default: one per worker, so latency is the "
                             "server's, not time spent queueing behind a busy worker).")
    parser.add_argument("--user", default="agent", help="Whose queue (a demo care agent).")
    parser.add_argument("--strict", action="store_true", help="Exit 1 when a target is missed.")
    args = parser.parse_args()
    args.concurrency = args.concurrency or args.workers

    ensure_database(os.environ["DATABASE_URL"])
    info = prepare(args.tickets, args.user)
    log(f"{info['tickets']:,} tickets; {args.user} sees {info['visible']:,}, {info['active']:,} of them active")
    tickets = info["sample"]
    scenarios = [
        Scenario("floor: 50 rows, 1 query", ["/bench/floor/"], {}),
        Scenario("queue (default view)", ["/tickets/"], {}),
        Scenario("queue (filtered)", ["/tickets/?sla=60&language=it", "/tickets/?priority=high&channel=x",
                                      "/tickets/?view=team&intent=reputational_risk"], {}),
        Scenario("queue partial (HTMX poll)", ["/tickets/?page=1"], {"HX-Request": "true"}),
        Scenario("ticket page", [f"/tickets/{pk}/" for pk in tickets], {}),
    ]
    queries = query_counts(info, scenarios)
    port = free_port()
    log(f"gunicorn: {args.workers} sync workers on :{port}; client: {args.concurrency} threads, "
        f"{args.requests} requests per page in {args.rounds} rounds after {args.warmup} warm-up")
    server = start_gunicorn(port, args.workers)
    samples = {s.name: ([], 0.0) for s in scenarios}
    try:
        for scenario in scenarios:
            headers = {"Cookie": info["cookie"], **scenario.headers}
            for i in range(args.warmup):
                fetch(port, scenario.path(i), headers)
        per_round = max(1, args.requests // args.rounds)
        for _ in range(args.rounds):
            for scenario in scenarios:
                latencies, wall = run(port, scenario, info["cookie"], requests=per_round,
                                      concurrency=args.concurrency)
                total, seconds = samples[scenario.name]
                samples[scenario.name] = (total + latencies, seconds + wall)
    finally:
        stop(server)
    results = {name: summarize(*sample) for name, sample in samples.items()}

    floor = results[scenarios[0].name]
    log("")
    log(f"{'page':<28} {'SQL':>4} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'vs floor':>9}")
    for scenario in scenarios:
        r = results[scenario.name]
        share = r["rps"] / floor["rps"]
        log(f"{scenario.name:<28} {queries[scenario.name]:>4} {r['p50']:>8.1f} {r['p95']:>8.1f} "
            f"{r['rps']:>8.1f} {share:>8.0%}")
    log("")
    missed = []
    for scenario in scenarios[1:4]:
        r = results[scenario.name]
        share = r["rps"] / floor["rps"]
        ok = r["p95"] <= QUEUE_P95_TARGET_MS and share >= QUEUE_FLOOR_SHARE_TARGET
        if not ok:
            missed.append(scenario.name)
        log(f"{'PASS' if ok else 'MISS'} {scenario.name}: p95 {r['p95']:.1f} ms (target ≤ "
            f"{QUEUE_P95_TARGET_MS:.0f}), {share:.0%} of the floor's throughput (target ≥ "
            f"{QUEUE_FLOOR_SHARE_TARGET:.0%})")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
