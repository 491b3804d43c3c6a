"""Ingest benchmark (`make bench-ingest`): webhook acceptance against the same server's floor,
then deliveries fully processed into tickets per second by Celery workers.

1. Starts gunicorn on 127.0.0.1 (a free port) against PostgreSQL, with production settings.
2. Floor: N requests to /healthz (a trivial JSON view in the same server) from a concurrent
   client; then N signed X deliveries (one new tweet by a new author each) to the webhook.
   Prints requests/s and p50/p99 latency of both and the ratio. No worker runs meanwhile, so
   the deliveries wait in the broker, as they would behind a busy worker pool.
3. End to end: starts Celery workers (Redis broker, 2 processes) and times how fast they turn
   that backlog into tickets (triaged, threaded, audited); then, with the workers running,
   sends another batch and times from the first request until the last ticket exists.

    python bench/ingest.py                       # N=3000, 32 client threads
    python bench/ingest.py -n 6000 -c 48 --web-workers 3 --web-threads 8
    python bench/ingest.py --known-authors 30    # 30 % of posts by authors with an open ticket
    python bench/ingest.py --acceptance-only     # the webhook against the floor, no workers

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/caretickets_bench (created and
migrated when missing; each run adds its own channel and counts only its own tickets);
CELERY_BROKER_URL to Redis db 15. Every loop is bounded: the script stops by itself.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = ROOT / ".venv" / "bin"

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caretickets_bench")
APP_NAME = "bench-ingest"
BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
CONSUMER_SECRET = "bench-x-secret"
BRAND_ID = "1100000000000000001"
RUN = f"{secrets.randbelow(10**6):06d}"  # ids and the channel are this run's own
SLUG = f"bench-x-{RUN}"
TEXTS = [
    "@BancaEsempio da tre giorni la carta è bloccata e nessuno risponde in chat. #bancachenoncera",
    "@BancaEsempio Ik wacht al drie weken op mijn terugbetaling. Dit is gewoon onacceptabel.",
    "@BancaEsempio your app is down again, can't log in since this morning. Anyone else?",
    "@BancaEsempio mi avete venduto una polizza abbinata al mutuo con costi nascosti, vergogna",
    "@BancaEsempio Storing bij internetbankieren? Al sinds vanochtend geen toegang, ook bij jullie?",
    "@BancaEsempio thanks for sorting my card so quickly, great service!",
]

ENV = {
    **os.environ,
    # Tagged connections: the database backends serving this run can be told from others.
    "DATABASE_URL": DATABASE_URL + ("&" if "?" in DATABASE_URL else "?") + f"application_name={APP_NAME}",
    "CELERY_BROKER_URL": BROKER_URL,
    "DJANGO_SETTINGS_MODULE": "bench.ingest_settings",
    "PYTHONPATH": str(ROOT),
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "DJANGO_SECURE_HSTS_SECONDS": "0",
    "CELERY_TASK_ALWAYS_EAGER": "false",
    "LOG_LEVEL": "WARNING",
}


def log(message: str) -> None:
    print(message, flush=True)


# --- database and broker ---------------------------------------------------------------------

def prepare_database() -> int:
    """Create the database when missing, migrate, and add this run's own channel (its id).

    Nothing is dropped or deleted: the database may hold other runs' tickets (the audit trail
    is append-only anyway); this run counts only what arrives on its channel.
    """
    import psycopg

    parsed = urlparse(DATABASE_URL)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(DATABASE_URL) as conn:
        # The durable-insert reference's table (bench/ingest_urls.py): one row per request.
        conn.execute("CREATE TABLE IF NOT EXISTS bench_ingest_probe "
                     "(id bigserial PRIMARY KEY, body bytea NOT NULL, received_at timestamptz DEFAULT now())")
    log(f"migrating {name}…")
    subprocess.run([str(VENV_BIN / "python"), "manage.py", "migrate", "--noinput", "-v0"],
                   cwd=ROOT, env=ENV, check=True, timeout=900)
    script = (
        "from apps.accounts.models import Team\n"
        "from apps.tickets.models import Channel\n"
        "team, _ = Team.objects.get_or_create(slug='bench-care', defaults={'name': 'Bench Care'})\n"
        f"channel = Channel.objects.create(kind='x', name='Bench X {RUN}', slug='{SLUG}', team=team,"
        f" account_id='{BRAND_ID}', secrets={{'consumer_secret': '{CONSUMER_SECRET}'}})\n"
        "print('channel', channel.pk)\n"
    )
    out = subprocess.run([str(VENV_BIN / "python"), "manage.py", "shell", "-c", script],
                         cwd=ROOT, env=ENV, check=True, timeout=120, capture_output=True, text=True).stdout
    return int(out.split("channel", 1)[1].split()[0])


def purge_queue() -> None:
    """Drop tasks a previous, interrupted run left in the default queue of the bench broker."""
    import redis

    redis.Redis.from_url(BROKER_URL).delete("celery")


def count_processed(channel_id: int) -> tuple[int, int]:
    import psycopg

    with psycopg.connect(DATABASE_URL) as conn:
        events = conn.execute(
            "SELECT count(*) FROM social_inboundevent WHERE channel_id = %s AND status <> 'received'", [channel_id]
        ).fetchone()[0]
        tickets = conn.execute("SELECT count(*) FROM tickets_ticket WHERE channel_id = %s", [channel_id]).fetchone()[0]
    return events, tickets


# --- CPU accounting: what each request or ticket costs, whatever else runs on the machine ------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def group_cpu(process: subprocess.Popen) -> float:
    """CPU seconds used so far by every live process of this process group."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == process.pid:
                    total += _cpu_seconds(int(entry))
            except OSError:
                continue
    return total


def database_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL backends serving this run's processes."""
    import psycopg

    with psycopg.connect(DATABASE_URL) as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [APP_NAME]
        )]
    return sum(_cpu_seconds(pid) for pid in pids)


def cpu_snapshot(*processes) -> float:
    return sum(group_cpu(p) for p in processes if p is not None) + database_cpu()


# --- processes -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], name: str) -> subprocess.Popen:
    log(f"starting {name}: {' '.join(command[:1] + command[1:6])} …")
    return subprocess.Popen(command, cwd=ROOT, env=ENV, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_for_http(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("gunicorn did not answer in time")


# --- load ------------------------------------------------------------------------------------

KNOWN_AUTHORS = {"percent": 0}  # --known-authors: share of deliveries by authors seen at warm-up


def delivery(n: int, batch: str) -> bytes:
    tweet_id = f"19{RUN}{batch}{n:07d}"
    user_id = f"29{RUN}{batch}{n:07d}"
    if batch != "9" and n % 100 < KNOWN_AUTHORS["percent"]:
        # One of the 200 warm-up authors writing again: threaded into their open ticket.
        user_id = f"29{RUN}9{n % 200:07d}"
    body = {
        "for_user_id": BRAND_ID,
        "tweet_create_events": [{
            "created_at": time.strftime("%a %b %d %H:%M:%S +0000 %Y", time.gmtime()),
            "id_str": tweet_id,
            "text": TEXTS[n % len(TEXTS)],
            "truncated": False,
            "in_reply_to_status_id_str": None,
            "user": {"id_str": user_id, "screen_name": f"customer{batch}{n}", "name": f"Customer {n}",
                     "followers_count": (n * 37) % 20_000},
            "entities": {"hashtags": [], "user_mentions": []},
            "timestamp_ms": str(int(time.time() * 1000)),
        }],
    }
    return json.dumps(body).encode()


def signature(body: bytes) -> str:
    return "sha256=" + base64.b64encode(hmac.new(CONSUMER_SECRET.encode(), body, hashlib.sha256).digest()).decode()


def load(port: int, requests: list[tuple[str, str, bytes | None, dict]], concurrency: int) -> dict:
    """Send every request once from `concurrency` threads on keep-alive connections."""
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    position = iter(range(len(requests)))

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], []
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                break
            method, path, body, headers = requests[index]
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 599
            mine.append(time.perf_counter() - started)
            if status != 200:
                bad.append(status)
        conn.close()
        with lock:
            latencies.extend(mine)
            failures.extend(bad)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "failures": len(failures),
        "statuses": sorted(set(failures)),
        "elapsed": elapsed,
    }


def deliveries(count: int, batch: str) -> list:
    result = []
    for n in range(count):
        body = delivery(n, batch)
        result.append(("POST", f"/webhooks/x/{SLUG}/", body, {
            "Content-Type": "application/json", "X-Twitter-Webhooks-Signature": signature(body),
        }))
    return result


def wait_processed(channel_id: int, target: int, timeout: float) -> float:
    """Seconds until `target` events are processed (polling the database); bounded by timeout."""
    started = time.perf_counter()
    deadline = started + timeout
    while time.perf_counter() < deadline:
        events, _tickets = count_processed(channel_id)
        if events >= target:
            return time.perf_counter() - started
        time.sleep(0.05)
    events, _tickets = count_processed(channel_id)
    sys.exit(f"only {events} of {target} events processed after {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--deliveries", type=int, default=3000)
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--celery-workers", type=int, default=2)
    parser.add_argument("--acceptance-only", action="store_true", help="skip the end-to-end part")
    parser.add_argument("--known-authors", type=int, default=0, metavar="PERCENT",
                        help="share of deliveries written by authors who already have an open ticket")
    args = parser.parse_args()
    KNOWN_AUTHORS["percent"] = args.known_authors

    channel_id = prepare_database()
    purge_queue()
    port = free_port()
    web = start([
        str(VENV_BIN / "gunicorn"), "caretickets.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.web_workers), "--threads", str(args.web_threads), "--worker-class", "gthread",
        "--keep-alive", "30", "--log-level", "warning",
    ], "gunicorn")
    workers = None
    try:
        wait_for_http(port, web)
        n, c = args.deliveries, args.concurrency
        log(f"warming up, then {n} requests each from {c} client threads")
        load(port, [("GET", "/healthz", None, {})] * 500, c)
        load(port, deliveries(200, "9"), c)
        before = cpu_snapshot(web)
        floor = load(port, [("GET", "/healthz", None, {})] * n, c)
        middle = cpu_snapshot(web)
        accept = load(port, deliveries(n, "1"), c)
        after = cpu_snapshot(web)
        probe = load(port, [("POST", "/bench/durable-insert/", body, headers)
                            for _method, _path, body, headers in deliveries(n, "3")], c)
        last = cpu_snapshot(web)
        floor_cpu, accept_cpu = (middle - before) / n * 1000, (after - middle) / n * 1000
        probe_cpu = (last - after) / n * 1000
        ratio = accept["rps"] / floor["rps"]
        log("")
        log(f"{'':34}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'CPU ms':>8}{'/ floor':>9}")
        for label, run, cpu in (
            ("floor  GET /healthz", floor, floor_cpu),
            ("webhook POST /webhooks/x/", accept, accept_cpu),
            ("reference: one durable INSERT", probe, probe_cpu),
        ):
            log(f"{label:34}{run['rps']:>8.0f}{run['p50']:>9.1f}{run['p99']:>9.1f}{run['failures']:>8}"
                f"{cpu:>8.2f}{run['rps'] / floor['rps']:>9.0%}")
        log(f"acceptance / floor: {ratio:.0%} (target ≥ 50%); server CPU per request (web + database)")
        log(f"the least any store-first webhook can do, one durable INSERT of the body: "
            f"{probe['rps'] / floor['rps']:.0%} of the floor")
        if accept["failures"] or floor["failures"] or probe["failures"]:
            log(f"non-200 answers: floor {floor['statuses']}, webhook {accept['statuses']}, "
                f"reference {probe['statuses']}")

        if args.acceptance_only:
            return
        backlog = n + 200
        log("")
        log(f"end to end: {args.celery_workers} Celery worker processes drain {backlog} queued deliveries")
        workers = start([
            str(VENV_BIN / "celery"), "-A", "caretickets", "worker", "--concurrency", str(args.celery_workers),
            "--pool", "prefork", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
            "--without-heartbeat",
        ], "celery")
        # Time from the first processed event, so worker start-up is not counted.
        deadline = time.monotonic() + 120
        while count_processed(channel_id)[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        first = count_processed(channel_id)[0]
        cpu_before = cpu_snapshot(workers)
        drain = wait_processed(channel_id, backlog, timeout=1800)
        ticket_cpu = (cpu_snapshot(workers) - cpu_before) / (backlog - first) * 1000
        events, tickets = count_processed(channel_id)
        drain_rate = (backlog - first) / drain
        log(f"backlog drained: {drain_rate:.0f} deliveries → tickets/s ({tickets} tickets)")
        cores = os.cpu_count() or 1
        log(f"CPU per ticket (workers + database): {ticket_cpu:.1f} ms → at most {cores / ticket_cpu * 1000:.0f} "
            f"tickets/s with all {cores} cores and nothing else running")

        live_n = n
        started = time.perf_counter()
        sender = threading.Thread(target=load, args=(port, deliveries(live_n, "2"), c))
        sender.start()
        sender.join(timeout=600)
        wait_processed(channel_id, backlog + live_n, timeout=1800)
        live = live_n / (time.perf_counter() - started)
        events, tickets = count_processed(channel_id)
        log(f"live (sending and processing at once): {live:.0f} deliveries → tickets/s ({tickets} tickets)")
        log(f"target: ≥ 300 tickets/s with {args.celery_workers} worker processes")
    finally:
        for process in (workers, web):
            if process is not None:
                stop(process)


if __name__ == "__main__":
    main()
