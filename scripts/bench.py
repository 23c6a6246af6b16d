#!/usr/bin/env python3
"""Measure the referral tracker and regenerate docs/benchmarks.md (`make bench`).

    python3 scripts/bench.py [--skip criterion,http,cold,size,calls,profile] [--seconds 20]

Sections, each with the command behind it:
  criterion  the hot paths on an in-memory store (crates/rft-bench/benches/hot_paths.rs)
  http       GET /r/{code} over loopback with oha: rft-local against a bare axum floor, at a fixed
             1,000 requests/s and at saturation, side by side; every 302 counted in the click log
  cold       rft-edge and a hello-world lambda_http binary under a minimal Lambda Runtime API
             (this script), exec to first response, median of 20
  size       the stripped arm64 binaries from `make build` (target/lambda/*/bootstrap)
  calls      AWS calls per click, sign-up and conversion (tests/it/aws_calls.rs on the
             emulators) and the monthly cost they imply at published prices
  profile    callgrind over rft-local serving redirects: the top costs

Nothing here fails on a timing: the report says met or missed against each target.
"""

import argparse
import base64
import contextlib
import datetime
import glob
import http.server
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulators  # noqa: E402
from rftlocal import free_port, running  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(ROOT, "target")
PROFILE_DIR = os.path.join(TARGET, "profiling")
OHA = os.path.join(ROOT, ".tools", "bin", "oha")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
FUNCTIONS = ["rft-edge", "rft-minter", "rft-attributor", "rft-rewarder", "rft-screen", "rft-sweep"]
# All the load comes from one address: lift the per-IP click limit for the run.
LOAD_SETTINGS = {"links.max_clicks_per_ip_per_hour": "4000000000", "screen.max_clicks_per_code_per_hour": "4000000000"}


def sh(command, **kwargs):
    print("bench: $", " ".join(command), flush=True)
    return subprocess.run(command, cwd=ROOT, check=True, **kwargs)


def met(ok):
    return "**met**" if ok else "**missed**"


# ---- machine ----------------------------------------------------------------------------------

def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")))
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{mem_kb / 1024 / 1024:.0f} GiB",
        "kernel": platform.release(),
        "rustc": rustc,
    }


# ---- criterion --------------------------------------------------------------------------------

CRITERION_TARGETS = {
    "redirect/handler (cached code, click discarded)": 20_000,  # ns of CPU: under 20 µs
}


def criterion():
    sh(["cargo", "bench", "-p", "rft-bench", "--bench", "hot_paths"])
    rows = []
    for path in sorted(glob.glob(os.path.join(TARGET, "criterion", "**", "new", "benchmark.json"), recursive=True)):
        meta = json.load(open(path))
        est = json.load(open(os.path.join(os.path.dirname(path), "estimates.json")))
        rows.append({
            "name": meta["full_id"],
            "mean_ns": est["mean"]["point_estimate"],
            "low_ns": est["mean"]["confidence_interval"]["lower_bound"],
            "high_ns": est["mean"]["confidence_interval"]["upper_bound"],
        })
    return rows


def fmt_ns(ns):
    return f"{ns / 1000:.2f} µs" if ns < 1_000_000 else f"{ns / 1_000_000:.2f} ms"


# ---- http -------------------------------------------------------------------------------------

def build_profiling():
    """One build for the HTTP, growth, cold-start and profile runs: release settings, line tables kept."""
    sh(["cargo", "build", "--profile", "profiling", "--workspace",
        "--bin", "rft-local", "--bin", "floor", "--bin", "overview", "--bin", "rft-edge", "--bin", "hello-lambda",
        "--bin", "instant-aws"])


def oha(url, seconds, rate=None, connections=50):
    command = [OHA, "-z", f"{seconds}s", "-c", str(connections), "-w", "--no-tui", "--output-format", "json",
               "-H", f"user-agent: {BROWSER}", url]
    if rate:
        command[1:1] = ["-q", str(rate), "--latency-correction"]
    report = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    statuses = {int(k): v for k, v in report.get("statusCodeDistribution", {}).items()}
    p = report.get("latencyPercentiles", {})
    return {
        "rps": report["summary"]["requestsPerSec"],
        "p50_ms": p.get("p50", 0) * 1000, "p99_ms": p.get("p99", 0) * 1000, "p999_ms": p.get("p99.9", 0) * 1000,
        "redirects": statuses.get(302, 0),
        "other": sum(v for k, v in statuses.items() if k != 302) + sum(report.get("errorDistribution", {}).values()),
    }


def cpu_seconds(pid):
    """User and system CPU of a process so far, all its threads (exited ones too), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid, run):
    """Runs `run()` (an oha run), adding the server's CPU time during it and the load before."""
    load = os.getloadavg()[0]
    before = cpu_seconds(pid)
    result = run()
    result["cpu_s"] = cpu_seconds(pid) - before
    result["cpu_us"] = result["cpu_s"] / max(result["redirects"], 1) * 1e6
    result["load"] = load
    return result


def http_bench(seconds, rounds, before_bin=None):
    """The floor, rft-local and (if given) an earlier rft-local, interleaved run by run, in
    `rounds` rounds of a 1,000 rps run and a saturation run each, the servers' CPU read from
    /proc around every run."""
    floor_bin = os.path.join(PROFILE_DIR, "floor")
    servers = {"rft-local": os.path.join(PROFILE_DIR, "rft-local")}
    if before_bin:
        servers["rft-local before"] = before_bin
    port = free_port()
    floor = subprocess.Popen([floor_bin, f"127.0.0.1:{port}"], start_new_session=True)
    runs, logged = [], {}
    try:
        time.sleep(0.5)
        with contextlib.ExitStack() as stack:
            locals_ = {name: stack.enter_context(running(binary, LOAD_SETTINGS, log_name=f"bench-{name.replace(' ', '-')}.log"))
                       for name, binary in servers.items()}
            urls = {"floor": (floor.pid, None)}
            for name, local in locals_.items():
                status, _, link = local.call("POST", "/api/links", {"customer_id": "c_bench"})
                assert status == 201, (status, link)
                urls[name] = (local.pid, f"{local.base}/r/{link['code']}")
            urls["floor"] = (floor.pid, f"http://127.0.0.1:{port}/r/{link['code']}")
            for n in range(1, rounds + 1):
                for mode, rate in (("1,000 rps", 1000), ("saturation", None)):
                    for who, (pid, url) in urls.items():
                        r = measured(pid, lambda: oha(url, seconds, rate))
                        runs.append({"server": who, "mode": mode, "round": n, **r})
            for name, local in locals_.items():
                _, _, stats = local.call("GET", "/api/referrers/c_bench/stats", timeout=600)
                logged[name] = stats["stats"]["clicks"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/count") as r:
            logged["floor"] = int(r.read())
    finally:
        os.killpg(floor.pid, signal.SIGTERM)
        floor.wait()
    served = {who: sum(r["redirects"] for r in runs if r["server"] == who) for who in logged}
    return {"runs": runs, "served": served, "logged": logged}


# ---- growth -------------------------------------------------------------------------------

GROWTH_STEPS = (0, 100_000, 1_000_000)
SAMPLES = 7


class Server:
    """rft-local on a data directory that outlives restarts (the overview is timed with it
    stopped: redb takes its file)."""

    def __init__(self, binary):
        from rftlocal import new_secrets, settings_for
        self.binary, self.work = binary, tempfile.mkdtemp(prefix="rft-growth-")
        self.port = free_port()
        self.settings = os.path.join(self.work, "settings.toml")
        with open(self.settings, "w") as f:
            f.write(settings_for(f"127.0.0.1:{self.port}", LOAD_SETTINGS))
        self.env = new_secrets()
        self.data = os.path.join(self.work, "data")
        self.proc = None

    def start(self):
        from rftlocal import Local
        log = open(os.path.join(TARGET, "bench-growth.log"), "a")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--settings", self.settings, "--data", self.data,
             "--listen", f"127.0.0.1:{self.port}", "--outbox", os.path.join(self.work, "outbox")],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}, start_new_session=True)
        deadline = time.time() + 300
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise SystemExit("bench: rft-local did not start for the growth run")
                time.sleep(0.1)
        self.local = Local(f"http://127.0.0.1:{self.port}", self.env, self.data)

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=120)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def no_redirect_get(base, path, headers=None):
    """A GET that does not follow redirects: (status, headers)."""
    import http.client
    host = base.split("//", 1)[1]
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.request("GET", path, headers=headers or {"user-agent": BROWSER})
    r = conn.getresponse()
    r.read()
    conn.close()
    # Header names as the server sent them (hyper sends them in lower case): looked up in lower case.
    return r.status, {name.lower(): value for name, value in r.getheaders()}


def timed(f, samples=SAMPLES):
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        f()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def signup_ms(local, code, n):
    """A sign-up through `code`: a click for its token, the webhook, then the referral's read
    until it exists (the attributor runs behind the queue)."""
    _, headers = no_redirect_get(local.base, f"/r/{code}")
    token = headers["set-cookie"].split("=", 1)[1].split(";", 1)[0]
    customer = f"c_growth_{code}_{n}_{secrets.token_hex(4)}"
    started = time.perf_counter()
    status, _, _ = local.call("POST", "/webhooks/signup",
                              {"customer_id": customer, "email": f"{customer}@example.com", "attribution_token": token})
    assert status == 202, status
    while local.call("GET", f"/api/referrals/{customer}")[0] != 200:
        time.sleep(0.001)
    return (time.perf_counter() - started) * 1000


def growth(binary, with_overview=True):
    """The stats API, the referrer page's data, a sign-up and the console's overview for a
    referrer at 0, 100k and 1M clicks on their code, against a fresh referrer in the same run;
    the data directory's size."""
    from rftlocal import link_query
    server = Server(binary)
    out = {}
    try:
        server.start()
        codes = {}
        for who in ("c_busy", "c_fresh"):
            status, _, link = server.local.call("POST", "/api/links", {"customer_id": who})
            assert status == 201, (status, link)
            codes[who] = link["code"]
        done = 0
        for clicks in GROWTH_STEPS:
            if clicks > done:
                sh([OHA, "-n", str(clicks - done), "-c", "50", "--no-tui", "--output-format", "quiet",
                    "-H", f"user-agent: {BROWSER}", f"{server.local.base}/r/{codes['c_busy']}"])
                done = clicks
            local = server.local
            _, _, stats = local.call("GET", "/api/referrers/c_busy/stats", timeout=600)
            assert stats["stats"]["clicks"] >= clicks, stats["stats"]["clicks"]
            row = {"clicks": stats["stats"]["clicks"]}
            for who in ("c_busy", "c_fresh"):
                page = "/me/data?" + urllib.parse.urlencode(
                    {"customer": who, **link_query(server.env["RFT_OPS_SECRET"], "portal", who)})
                row[f"stats_{who}"] = timed(lambda: local.call("GET", f"/api/referrers/{who}/stats", timeout=600))
                row[f"page_{who}"] = timed(lambda: local.call("GET", page, signed=False, timeout=600))
                row[f"signup_{who}"] = statistics.median(signup_ms(local, codes[who], n) for n in range(SAMPLES))
            row["data_bytes"] = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(server.data) for f in fs)
            if with_overview:
                server.stop()
                answer = subprocess.run([os.path.join(PROFILE_DIR, "overview"), server.data, str(SAMPLES)],
                                        check=True, capture_output=True, text=True).stdout
                row["overview"] = json.loads(answer)
                server.start()
            out[clicks] = row
            print(f"bench: growth at {clicks:,} clicks: {row}", flush=True)
    finally:
        server.close()
    return out


def sigkill():
    """The click log's crash test (every 302 survives a SIGKILL at any moment): pass or fail."""
    result = subprocess.run(["cargo", "nextest", "run", "--workspace", "-E", "test(every_302_survives_a_sigkill_at_any_moment)"],
                            cwd=ROOT, capture_output=True, text=True)
    return result.returncode == 0


# ---- cold start -------------------------------------------------------------------------------

FUNCTION_URL_EVENT = {
    "version": "2.0", "routeKey": "$default", "rawPath": "/healthz", "rawQueryString": "",
    "headers": {"host": "abc.lambda-url.eu-west-2.on.aws", "user-agent": "bench"},
    "requestContext": {
        "accountId": "123456789012", "apiId": "abc", "domainName": "abc.lambda-url.eu-west-2.on.aws",
        "domainPrefix": "abc", "requestId": "bench-1", "routeKey": "$default", "stage": "$default",
        "time": "21/Nov/2026:10:00:00 +0000", "timeEpoch": 1795000000000,
        "http": {"method": "GET", "path": "/healthz", "protocol": "HTTP/1.1", "sourceIp": "198.51.100.1",
                 "userAgent": "bench"},
    },
    "isBase64Encoded": False,
}


class RuntimeApi:
    """The part of the Lambda Runtime API a cold start touches: one event, one response."""

    def __init__(self):
        self.responded = threading.Event()
        self.served = False
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self.send_error(404)
                if api.served:
                    api.responded.wait(30)  # the function polls again after answering; hold it
                    return self.send_error(500)
                api.served = True
                body = json.dumps(FUNCTION_URL_EVENT).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 "arn:aws:lambda:eu-west-2:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                api.at = time.perf_counter()
                api.ok = "/response" in self.path
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                api.responded.set()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class InstantAws:
    """crates/rft-bench/src/bin/instant-aws.rs: answers the two calls rft-edge makes at init at
    once, so a cold start is timed without an emulator's own latency in it."""

    def __init__(self, secret):
        port = free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([os.path.join(PROFILE_DIR, "instant-aws"), f"127.0.0.1:{port}"],
                                     env={**os.environ, "RFT_BENCH_SECRET": secret},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.proc.log_path = "(stderr discarded)"
        emulators.wait_http(self.endpoint, "instant-aws", self.proc)

    def close(self):
        self.proc.kill()
        self.proc.wait()


# Random keys: the functions refuse published examples and predictable keys at start.
BENCH_SECRET = json.dumps({"signing_secret": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
                           "ops_secret": secrets.token_hex(32), "store_api_key": secrets.token_hex(32),
                           "identity_key": secrets.token_hex(32),
                           "store_signing_secret": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()})


def cold_start_once(binary, env):
    api = RuntimeApi()
    env = {**env, "AWS_LAMBDA_RUNTIME_API": api.address, "AWS_LAMBDA_FUNCTION_NAME": "bench",
           "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
           "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "AWS_LAMBDA_LOG_GROUP_NAME": "bench"}
    started = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not api.responded.wait(30) or not api.ok:
            raise SystemExit(f"bench: {binary} did not answer its first invocation")
        return (api.at - started) * 1000
    finally:
        proc.kill()
        proc.wait()
        api.close()


def cold_start(runs=20):
    port = free_port()
    moto = emulators.moto(port)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        emulators.wait_http(f"{endpoint}/moto-api/", "moto", moto)
        aws = {"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "eu-west-2", "AWS_ACCESS_KEY_ID": "test",
               "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true"}
        setup = """
import boto3, json, sys
kw = dict(endpoint_url=sys.argv[1], region_name="eu-west-2")
boto3.client("secretsmanager", **kw).create_secret(Name="rft/secrets", SecretString=sys.argv[2])
boto3.client("dynamodb", **kw).create_table(TableName="rft-codes", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "code", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "code", "KeyType": "HASH"}])
"""
        subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), "-c", setup, endpoint, BENCH_SECRET], check=True,
                       env={**os.environ, **aws})
        edge_env = {**aws, "PATH": os.environ["PATH"], "RFT_SETTINGS": os.path.join(ROOT, "settings.example.toml"),
                    "RFT_SECRET_ID": "rft/secrets",
                    "RFT_SIGNUP_QUEUE_URL": f"{endpoint}/123456789012/rft-signup-jobs",
                    "RFT_REWARD_QUEUE_URL": f"{endpoint}/123456789012/rft-reward-jobs",
                    "RFT_MINTER_FUNCTION": "rft-minter", "RFT_SCREEN_FUNCTION": "rft-screen",
                    "RFT_REWARDER_FUNCTION": "rft-rewarder"}
        instant = InstantAws(BENCH_SECRET)
        instant_env = {**edge_env, "AWS_ENDPOINT_URL": instant.endpoint}
        times = {"hello-lambda": [], "rft-edge": [], "rft-edge-instant": []}
        for _ in range(runs):  # interleaved, so drift affects all alike
            times["hello-lambda"].append(cold_start_once(os.path.join(PROFILE_DIR, "hello-lambda"), edge_env))
            times["rft-edge"].append(cold_start_once(os.path.join(PROFILE_DIR, "rft-edge"), edge_env))
            times["rft-edge-instant"].append(cold_start_once(os.path.join(PROFILE_DIR, "rft-edge"), instant_env))
        instant.close()
        return {name: {"median_ms": statistics.median(t), "min_ms": min(t), "max_ms": max(t)}
                for name, t in times.items()}
    finally:
        emulators.stop(moto)


# ---- sizes ------------------------------------------------------------------------------------

def sizes():
    out = {}
    for name in FUNCTIONS:
        path = os.path.join(TARGET, "lambda", name, "bootstrap")
        if os.path.exists(path):
            out[name] = os.path.getsize(path)
    return out


# ---- calls and cost ---------------------------------------------------------------------------

def calls():
    """The calls per phase, the read units per stats call as clicks grow, and the DynamoDB click
    item's size, from three tests on the emulators."""
    out = {k: os.path.join(TARGET, f"bench-aws-{k}.json") for k in ("calls", "reads", "item")}
    sh([os.path.join(ROOT, ".venv", "bin", "python"), "scripts/emulators.py", "--", "cargo", "nextest", "run",
        "--workspace", "-E", "test(aws_calls_per_click_sign_up_and_conversion) | test(stats_read_units_do_not_grow_with_clicks)"
        " | test(a_click_item_is_at_most_200_bytes)"],
       env={**os.environ, "RFT_BENCH_CALLS": out["calls"], "RFT_BENCH_READS": out["reads"], "RFT_BENCH_ITEM": out["item"]})
    phases = json.load(open(out["calls"]))
    phases["_reads"] = json.load(open(out["reads"]))
    phases["_item"] = json.load(open(out["item"]))
    return phases


# Published on-demand prices, us-east-1 (USD), read 2026-11-21 from the pages cited in the report.
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_s_arm": 0.0000133334,
    "ddb_write_unit": 0.625 / 1e6,
    "ddb_read_unit": 0.125 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "ses_email": 0.10 / 1000,
    "sns_sms_uk": 0.0440,
    "secret_month": 0.40,
    "secret_call": 0.05 / 10000,
    "haiku_input_token": 1.00 / 1e6,
    "haiku_output_token": 5.00 / 1e6,
    "logs_gb": 0.50,
}


def cost_of(counts, lambda_ms, memory_gb=0.5):
    """Cost of one phase's calls: each DynamoDB write or read counted as one request unit (items
    here are well under 1 KB; transactions cost double per item, counted as 4 units for our two-
    to-four item payouts), one Lambda invocation of `lambda_ms` per function involved."""
    c = 0.0
    for call, n in counts.items():
        if call in ("DynamoDB.PutItem", "DynamoDB.UpdateItem", "DynamoDB.DeleteItem"):
            c += n * PRICES["ddb_write_unit"]
        elif call == "DynamoDB.TransactWriteItems":
            c += n * 4 * 2 * PRICES["ddb_write_unit"]
        elif call.startswith("DynamoDB."):
            c += n * PRICES["ddb_read_unit"]
        elif call.startswith("SQS."):
            c += n * PRICES["sqs_request"]
        elif call.startswith("SESv2."):
            c += n * PRICES["ses_email"]
        elif call.startswith("Bedrock"):
            c += n * (600 * PRICES["haiku_input_token"] + 120 * PRICES["haiku_output_token"])
        elif call.startswith("Lambda."):
            c += n * (PRICES["lambda_request"] + memory_gb * lambda_ms / 1000 * PRICES["lambda_gb_s_arm"])
    return c


def monthly(phases, clicks, signups, conversions, links):
    """The month's bill at a volume, from the measured calls per phase."""
    edge_invocation = PRICES["lambda_request"] + 0.5 * 0.010 * PRICES["lambda_gb_s_arm"]  # 10 ms at 512 MB
    # The follower, at worst: each click alone in its stream batch (a quiet programme), so one
    # rft-sweep invocation (20 ms at 256 MB) and a transaction of a marker, the code's day and the
    # programme's day, two write units each.
    follower = PRICES["lambda_request"] + 0.25 * 0.020 * PRICES["lambda_gb_s_arm"] + 3 * 2 * PRICES["ddb_write_unit"]
    per = {
        "click": cost_of(phases["click, code cached"], 10) + edge_invocation + follower,
        "follower": follower,
        "signup": cost_of(phases["sign-up webhook (rft-edge)"], 10)
        + cost_of(phases["sign-up attribution (rft-attributor, rft-screen)"], 50) + 2 * edge_invocation,
        "conversion": cost_of(phases["conversion webhook (rft-edge)"], 10)
        + cost_of(phases["conversion payout (rft-rewarder, rft-screen)"], 300) + 2 * edge_invocation,
        "link": cost_of(phases["mint"], 1500) + edge_invocation,
    }
    fixed = PRICES["secret_month"] + 4 * 30 * 24 * PRICES["lambda_request"] * 0  # one secret; sweep is free-tier noise
    usage = clicks * per["click"] + signups * per["signup"] + conversions * per["conversion"] + links * per["link"]
    logs = (clicks + 3 * signups + 5 * conversions + 2 * links) * 600 / 1e9 * PRICES["logs_gb"]  # ~600 B of log each
    return {"per": per, "fixed": fixed, "usage": usage, "logs": logs, "total": fixed + usage + logs}


# ---- profile ----------------------------------------------------------------------------------

def profile():
    out = os.path.join(TARGET, "callgrind.out.rft-local")
    work = tempfile.mkdtemp(prefix="rft-profile-")
    port = free_port()
    settings = os.path.join(work, "settings.toml")
    from rftlocal import new_secrets, settings_for
    with open(settings, "w") as f:
        f.write(settings_for(f"127.0.0.1:{port}", LOAD_SETTINGS))
    env = {**os.environ, **new_secrets()}
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                             os.path.join(PROFILE_DIR, "rft-local"), "serve", "--settings", settings,
                             "--data", os.path.join(work, "data"), "--listen", f"127.0.0.1:{port}",
                             "--outbox", os.path.join(work, "outbox")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from rftlocal import Local
        local = Local(f"http://127.0.0.1:{port}", env, work)
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{local.base}/healthz", timeout=2)
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("bench: rft-local under callgrind did not start")
                time.sleep(0.5)
        _, _, link = local.call("POST", "/api/links", {"customer_id": "c_profile"})
        subprocess.run([OHA, "-n", "2000", "-c", "4", "--no-tui", "--output-format", "quiet",
                        "-H", f"user-agent: {BROWSER}", f"{local.base}/r/{link['code']}"], check=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    annotate = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=90", out],
                              capture_output=True, text=True).stdout
    # Lines look like "56,404,527 ( 8.99%)  ./malloc/malloc.c:_int_free [/usr/lib/.../libc.so.6]".
    entry = re.compile(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S+?):(.*?)(?:\s+\[(.*)\])?$")
    rows, total = [], None
    for line in annotate.splitlines():
        if "PROGRAM TOTALS" in line:
            total = int(line.split()[0].replace(",", ""))
            continue
        found = entry.match(line)
        if found:
            count, share, source, function, obj = found.groups()
            where = os.path.basename(obj) if source == "???" and obj else os.path.basename(source)
            rows.append((int(count.replace(",", "")), f"{share}%", function.strip(), where))
    return {"total": total, "top": rows[:15], "file": os.path.relpath(out, ROOT)}


PROFILE_READING = (
    "What the top costs are: `sha2` is the HMAC-SHA256 on the click path (the keyed IP hash among "
    "it), in software here because valgrind hides the CPU's SHA instructions; malloc and free "
    "together are about a fifth; `rustls_pki_types::base64` is start-up, parsing the root "
    "certificates of the store's HTTPS client; `memset` is mostly redb zero-filling the fresh pages "
    "of the click log's folds (`zero_filled_arc`). The request handling itself (axum, hyper, the "
    "redirect handler) is spread thin below these."
)


# ---- report -----------------------------------------------------------------------------------

HTTP_READING = [
    "How the click path spends its CPU now (`perf` at saturation, on the build measured above): "
    "a click is encoded on its request's thread into a binary record of about 70 bytes and queued; a "
    "request that finds no write under way starts one on the blocking pool, which appends the queue "
    "with one `write`, makes it durable with one `fdatasync`, updates the in-memory index and counts, "
    "wakes exactly the requests it made durable, and goes on while clicks keep queueing "
    "([architecture.md](architecture.md#the-local-store-redb)). Nothing per click crosses to another "
    "thread, no JSON is written, no B-tree is touched: the counts reach redb once a second, for all "
    "the clicks of that second. What remains above the floor is the kernel's share (about half: the "
    "sync's I/O submission, and waking and parking threads while 50 connections wait on one sync), "
    "allocation, the keyed IP hash, and the request's own work (cookie, code cache, token, user agent).",
    "",
    "Before this design (40.6 µs of server CPU a redirect, 6.4x the floor's, when it was last "
    "measured; `--before <binary>` measures an earlier build beside this one), each click crossed "
    "to a writer thread and back, was "
    "written as JSON to a write-ahead log, and a folder thread inserted it into three redb B-trees "
    "(about 19 µs a click). The per-IP limit and the bot check stay on the path; the second keyed "
    "hash (the browser's) is computed only when the optional fingerprint fallback is on.",
    "",
]


def growth_section(grown, commands, glance):
    now, before = grown["now"], grown.get("before")
    lines = ["## Reads as clicks grow", "",
             f"`{commands['growth']}`: release `rft-local` (the build above) with one referrer's code clicked "
             "0, 100,000 and 1,000,000 times by oha, and a fresh referrer in the same process: at each "
             f"step, the median of {SAMPLES} signed `GET /api/referrers/{{id}}/stats`, of {SAMPLES} reads of "
             f"the referrer's page data (`GET /me/data`, a signed link), of {SAMPLES} sign-ups through each "
             "code (a click for the token, the webhook, then the referral's read until it exists: the "
             "attributor runs behind the local queue), and the console's overview (`rft_core::service::"
             "console::RollupOverview`, timed by `crates/rft-bench/src/bin/overview.rs` on the "
             "data directory with the server stopped); the data directory's size.", ""]

    def table(rows, who):
        out = ["| clicks on the code | stats API | / fresh | referrer page data | / fresh | sign-up | / fresh | "
               "console overview | data directory |", "|---|---|---|---|---|---|---|---|---|"]
        for clicks, r in sorted(rows.items()):
            ov = f"{r['overview']['median_ms']:.2f} ms" if "overview" in r else "(none)"
            out.append(
                f"| {r['clicks']:,} | {r['stats_c_busy']:.2f} ms | {r['stats_c_busy'] / r['stats_c_fresh']:.2f}x | "
                f"{r['page_c_busy']:.2f} ms | {r['page_c_busy'] / r['page_c_fresh']:.2f}x | "
                f"{r['signup_c_busy']:.1f} ms | {r['signup_c_busy'] / r['signup_c_fresh']:.2f}x | {ov} | "
                f"{r['data_bytes'] / 1e6:,.1f} MB |")
        return [f"{who}:", ""] + out + [""]

    lines += table(now, "Now")
    if before:
        lines += table(before, "Before (the build this work started from; it has no overview)")
    top = max(now)
    r = now[top]
    worst = max(r["stats_c_busy"] / r["stats_c_fresh"], r["page_c_busy"] / r["page_c_fresh"],
                r["signup_c_busy"] / r["signup_c_fresh"])
    per_click = (r["data_bytes"] - now[0]["data_bytes"]) / max(r["clicks"] - now[0]["clicks"], 1)
    lines += [f"Bytes per click: **{per_click:.0f}** (the data directory's growth from 0 to {r['clicks']:,} "
              "clicks, over the clicks; the click log's records and, once a day per code, their rollup rows)"
              + (f"; before: {(before[max(before)]['data_bytes'] - before[0]['data_bytes']) / max(before[max(before)]['clicks'] - before[0]['clicks'], 1):.0f}."
                 if before else "."), "",
              "Opening the store reads the click log back (the index is rebuilt from it): "
              + ", ".join(f"{row['overview']['open_ms']:.0f} ms at {row['clicks']:,} clicks" for _, row in sorted(now.items())
                          if "overview" in row) + ".", ""]
    glance.append(f"| at 1,000,000 clicks on one code: stats, page data and a sign-up within 2x of a fresh referrer's | "
                  f"{worst:.2f}x at worst | {met(worst <= 2)} |")
    glance.append(f"| bytes per click at most 250 locally | {per_click:.0f} | {met(per_click <= 250)} |")
    return lines


def previous_report():
    """The sections, glance rows and date of docs/benchmarks.md as it stands, so a run that
    skips a section keeps what was measured before (and says when)."""
    path = os.path.join(ROOT, "docs", "benchmarks.md")
    if not os.path.exists(path):
        return {}, [], None
    text = open(path).read().splitlines()
    sections, current = {}, None
    for line in text:
        if line.startswith("## "):
            current = line
            sections[current] = [line]
        elif current:
            sections[current].append(line)
    glance, inside = [], False
    for line in text:
        if line.startswith("| target | measured |"):
            inside = True
            continue
        if inside:
            if not line.startswith("|"):
                break
            if not line.startswith("|---"):
                glance.append(line)
    date = next((line.split("|")[2].strip() for line in text if line.startswith("| date |")), None)
    return sections, glance, date


SECTION_TITLES = {
    "criterion": "## Hot paths (criterion)",
    "http": "## The redirect over HTTP",
    "growth": "## Reads as clicks grow",
    "cold": "## Cold start",
    "size": "## Binary sizes",
    "calls": "## AWS calls and cost",
    "profile": "## Profile of the redirect path",
}
GLANCE_OF = {
    "criterion": ["| redirect handler"],
    "http": ["| server CPU per durable", "| rft-local throughput", "| p99 under", "| every 302 in the click log |"],
    "growth": ["| at 1,000,000 clicks", "| bytes per click"],
    "cold": ["| cold start"],
    "size": ["| each function"],
    "calls": ["| one storage write", "| under $1.00", "| read units per stats call", "| DynamoDB click item"],
}


def kept(report_lines, glance, skipped, previous):
    """Appends the previous run's sections (and their glance rows) for the sections skipped."""
    sections, old_glance, date = previous
    for key in skipped:
        title = SECTION_TITLES.get(key)
        if title in sections:
            body = sections[title]
            # A section skipped before as well keeps the date it was really measured on.
            measured_before = any(line.startswith("_Not rerun this time") for line in body[1:3])
            note = [] if measured_before else ["", f"_Not rerun this time: as measured on {date}._"]
            report_lines += [body[0]] + note + body[1:]
            glance += [g for g in old_glance if any(g.startswith(p) for p in GLANCE_OF.get(key, []))]


def report(m, crit, web, grown, killed, cold, size, phases, prof, commands, previous=({}, [], None)):
    lines = ["# Benchmarks", "",
             "Regenerated by `make bench` (`scripts/bench.py`). Nothing fails on a timing: each target",
             "says met or missed. Every figure below comes from one run on this machine:", "",
             "| | |", "|---|---|"]
    for k, v in m.items():
        lines.append(f"| {k} | {v} |")
    lines += ["", "Targets at a glance:", ""]
    glance = []

    if crit is not None:
        lines += ["## Hot paths (criterion)", "", f"`{commands['criterion']}`: mean time per call, 95% interval.",
                  "All on an in-memory store, one tokio current-thread runtime.", "",
                  "| benchmark | mean | interval |", "|---|---|---|"]
        for r in crit:
            lines.append(f"| {r['name']} | {fmt_ns(r['mean_ns'])} | {fmt_ns(r['low_ns'])} to {fmt_ns(r['high_ns'])} |")
        handler = next((r for r in crit if r["name"].startswith("redirect/handler")), None)
        if handler:
            glance.append(f"| redirect handler under 20 µs of CPU | {fmt_ns(handler['mean_ns'])} | "
                          f"{met(handler['mean_ns'] < 20_000)} |")
        lines.append("")

    else:
        kept(lines, glance, ["criterion"], previous)

    if web is not None:
        runs = web["runs"]
        names = [n for n in ("floor", "rft-local", "rft-local before") if any(r["server"] == n for r in runs)]
        lines += ["## The redirect over HTTP", "",
                  f"`{commands['http']}`. {web.get('oha', 'oha')} on loopback, 50 connections, "
                  f"{web['seconds']} s per run, keep-alive, a browser user agent, redirects not followed; "
                  "the fixed-rate runs correct for coordinated omission (`--latency-correction`). The floor "
                  "(`crates/rft-bench/src/bin/floor.rs`) is a bare axum server built with the same profile "
                  "that answers every GET with a 302 and bumps an in-memory counter. rft-local writes each "
                  "click durably (group commit, `fdatasync` before the 302s of a group)"
                  + (f"; `rft-local before` is the build this work started from ({web['before']})" if web.get("before") else "")
                  + ". The servers run one after the other, run by run, in "
                  f"{web['rounds']} rounds, so a change in the machine's load touches all of them. Each "
                  "server's CPU time (user and system, all threads) is read from `/proc/<pid>/stat` before "
                  "and after each of its runs: CPU per redirect does not depend on sharing the two cores "
                  "with oha, where requests per second do. The load average at the start of each run says "
                  "how busy the shared machine was.", "",
                  "| server | load | round | load average | requests/s | p50 | p99 | p99.9 | CPU per redirect | non-302 |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in runs:
            lines.append(f"| {r['server']} | {r['mode']} | {r['round']} | {r['load']:.1f} | {r['rps']:,.0f} | "
                         f"{r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['p999_ms']:.2f} ms | "
                         f"{r['cpu_us']:.1f} µs | {r['other']} |")

        def mean(who, mode, key):
            vals = [r[key] for r in runs if r["server"] == who and r["mode"] == mode]
            return sum(vals) / len(vals)

        cpu_ratio = {n: mean(n, "saturation", "cpu_us") / mean("floor", "saturation", "cpu_us") for n in names}
        rps_ratio = {n: mean(n, "saturation", "rps") / mean("floor", "saturation", "rps") for n in names}
        lines += ["", "Means over the rounds, at saturation:", "",
                  "| server | requests/s | / floor | CPU per redirect | / floor |", "|---|---|---|---|---|"]
        for n in names:
            lines.append(f"| {n} | {mean(n, 'saturation', 'rps'):,.0f} | {rps_ratio[n]:.2f} | "
                         f"{mean(n, 'saturation', 'cpu_us'):.1f} µs | **{cpu_ratio[n]:.2f}x** |")
        lines += ["", "Clicks: " + "; ".join(
            f"{n} served {web['served'][n]:,} redirects and {'counted' if n == 'floor' else 'its click log holds'} "
            f"{web['logged'][n]:,}" for n in names) + " (rft-local's as the stats API counts them).", ""]
        lines += HTTP_READING
        p99 = mean("rft-local", "1,000 rps", "p99_ms")
        glance.append(f"| server CPU per durable redirect at most 3x the floor's (saturation, mean of {web['rounds']}) | "
                      f"{cpu_ratio['rft-local']:.2f}x" + (f" (before: {cpu_ratio['rft-local before']:.2f}x)" if "rft-local before" in cpu_ratio else "")
                      + f" | {met(cpu_ratio['rft-local'] <= 3)} |")
        glance.append(f"| rft-local throughput at least half the floor's at saturation | {rps_ratio['rft-local']:.2f} | "
                      f"{met(rps_ratio['rft-local'] >= 0.5)} |")
        glance.append(f"| p99 under 5 ms at 1,000 rps | {p99:.2f} ms | {met(p99 < 5)} |")
        glance.append(f"| every 302 in the click log | {web['logged']['rft-local']:,} of {web['served']['rft-local']:,} | "
                      f"{met(web['logged']['rft-local'] == web['served']['rft-local'])} |")
    else:
        kept(lines, glance, ["http"], previous)
    if killed is not None:
        glance.append(f"| every 302 in the click log after a SIGKILL at any moment | "
                      f"`every_302_survives_a_sigkill_at_any_moment` {'passes' if killed else 'fails'} | {met(killed)} |")

    if grown is not None:
        lines += growth_section(grown, commands, glance)
    else:
        kept(lines, glance, ["growth"], previous)

    if cold is not None:
        e, i, h = cold["rft-edge"], cold["rft-edge-instant"], cold["hello-lambda"]
        ratio, own = e["median_ms"] / h["median_ms"], i["median_ms"] / h["median_ms"]
        lines += ["## Cold start", "",
                  f"`{commands['cold']}`: each binary started 20 times under a minimal Lambda Runtime API "
                  "(in `scripts/bench.py`), from exec to the first invocation's response being posted, "
                  "interleaved. rft-edge's init reads its settings file and, at the same time, fetches its "
                  "secret from Secrets Manager and warms its DynamoDB connection (two round trips that "
                  "overlap); the first event is a Function URL `GET /healthz`. The hello-world "
                  "(`crates/rft-bench/src/bin/hello-lambda.rs`) makes no AWS call and is built with the same "
                  "profile. rft-edge runs twice: against moto (a Python emulator: its answer time is most of "
                  "the difference) and against a stub that answers those two calls at once, which leaves the "
                  "binary's own start-up.", "",
                  "| binary | AWS answered by | median | min | max | / hello-world |", "|---|---|---|---|---|---|",
                  f"| hello-world lambda_http | (no calls) | {h['median_ms']:.1f} ms | {h['min_ms']:.1f} ms | "
                  f"{h['max_ms']:.1f} ms | 1.00 |",
                  f"| rft-edge | moto | {e['median_ms']:.1f} ms | {e['min_ms']:.1f} ms | {e['max_ms']:.1f} ms | "
                  f"{ratio:.2f} |",
                  f"| rft-edge | instant stub | {i['median_ms']:.1f} ms | {i['min_ms']:.1f} ms | {i['max_ms']:.1f} ms | "
                  f"{own:.2f} |", "",
                  "In AWS the two init round trips (Secrets Manager, DynamoDB, each with a TLS handshake) "
                  "take tens of milliseconds whatever the binary, so no function that must read a secret "
                  "before its first answer can be within 1.5x of a hello-world that reads nothing; the "
                  "binary's own start-up is what this target can hold us to.", "",
                  "Where the binary's own start-up goes (perf with DWARF call graphs and strace over single "
                  "starts against the instant stub). It was 13.7 ms (3.4x): most of that was the SDK's HTTPS "
                  "client loading the platform's root certificates (the bundle and every file in "
                  "`/etc/ssl/certs`, about 150 certificates parsed), and building the SDK's default "
                  "credentials chain, which constructs an STS client for web identity. Now the SDK clients "
                  "trust the five Amazon Trust Services roots every AWS endpoint chains to, compiled in "
                  "(`crates/rft-aws/src/config.rs`, `RFT_AWS_NATIVE_ROOTS=1` restores the platform store), and "
                  "take Lambda's credentials and region from its environment, the first link of those chains. "
                  "The SDK clients a request may never need (SQS for the two queues, Lambda for the minter "
                  "and erasure) are built on first use, one per service (`LazyClient` in "
                  "`crates/rft-aws/src/env.rs`): init builds two clients instead of six, about 0.3 ms.", "",
                  "What remains beyond the hello-world, about 3.5 ms, measured with timestamps in a scratch "
                  "build (median of 10 starts against the instant stub) and perf: reading and validating the "
                  "settings 0.1 ms; the SDK configuration 0.2 ms; the first client 0.35 ms and each further "
                  "one 0.1 ms (the SDK builds a connector and its TLS configuration for every client); the "
                  "secret's first call 1.5 ms, of which about 1 ms is the SDK's one-time work (connector and "
                  "connection pool, each service crate's endpoint partitions and their regexes, SigV4) and "
                  "the rest the call; the DynamoDB warm-up 0.4 ms; building the router 0.2 ms. A quarter of "
                  "the CPU samples are page faults: 450 against the hello-world's 160, a hundred of them "
                  "copy-on-write faults of the dynamic loader relocating the position-independent binary's "
                  "340 KB of `.data.rel.ro`. Linking rft-edge and the hello-world non-PIE "
                  "(`-C relocation-model=static`) took rft-edge's start from 8.0 to 7.2 ms (two interleaved "
                  "sets of 20 each; the hello-world got a little faster too, so 1.67-1.73x, still not 1.5x) "
                  "but gives up address-space randomisation of the executable, which is not worth under a "
                  "millisecond, so the functions stay PIE. Running the secret fetch and the warm-up "
                  "on two worker threads would overlap their CPU work on this two-core machine but not in a "
                  "512 MB function, which has a fraction of one vCPU; answering before the secret arrives "
                  "would meet the ratio on `/healthz` and gain nothing on a click. Neither is done.", ""]
        glance.append(f"| cold start within 1.5x of hello-world (the binary's own start-up) | {own:.2f}x | "
                      f"{met(own <= 1.5)} |")
        glance.append(f"| cold start within 1.5x of hello-world (with moto's round trips) | {ratio:.2f}x | "
                      f"{met(ratio <= 1.5)} |")

    else:
        kept(lines, glance, ["cold"], previous)

    if size is not None:
        lines += ["## Binary sizes", "",
                  f"`{commands['size']}`: the stripped arm64 `bootstrap` of each function.", "",
                  "| function | size | target |", "|---|---|---|"]
        for name, bytes_ in size.items():
            limit = 6 if name == "rft-edge" else 10
            mb = bytes_ / 1e6
            lines.append(f"| {name} | {mb:.2f} MB | under {limit} MB: {met(mb < limit)} |")
        if size:
            all_ok = all(b / 1e6 < (6 if n == "rft-edge" else 10) for n, b in size.items())
            glance.append(f"| each function under 10 MB, rft-edge under 6 MB | "
                          f"{max(size.values()) / 1e6:.1f} MB largest | {met(all_ok)} |")
        else:
            lines.append("| (no binaries: run `make build` first) | | |")
        lines.append("")

    else:
        kept(lines, glance, ["size"], previous)

    if phases is not None:
        lines += ["## AWS calls and cost", "",
                  f"`{commands['calls']}`: every attempt of every SDK call the functions make, counted by an "
                  "interceptor on their own clients (`crates/rft-aws/src/calls.rs`) while one referral runs "
                  "its course through the functions' wiring on DynamoDB Local and moto. SQS receives and "
                  "deletes are made by Lambda's event source mapping, not by our code, and are not in these "
                  "counts.", "", "| phase | calls |", "|---|---|"]
        for phase, counts in phases.items():
            if phase.startswith("_"):
                continue
            lines.append(f"| {phase} | " + ", ".join(f"{k} {v}" for k, v in counts.items()) + " |")
        reads, item = phases["_reads"], phases["_item"]
        lines += ["", f"`{commands['reads']}`: DynamoDB read units of one stats call (the referrer's page reads "
                  "the same) as DynamoDB Local reports them to the interceptor (`ReturnConsumedCapacity`), for "
                  "a referrer with no clicks, then with clicks spread over the 30 days the stats show:", "",
                  "| clicks on the code | read units per stats call |", "|---|---|"]
        for clicks, units in sorted(reads.items(), key=lambda kv: int(kv[0])):
            lines.append(f"| {int(clicks):,} | {units} |")
        lines += ["", "Before, the stats read every click of the code in its window through the `by_code` index "
                  "(about 90 bytes an entry, 0.5 units per 4 KB, eventually consistent): about 10,000 units per "
                  "call at a million clicks.", "",
                  f"`{commands['item']}`: a click's item as DynamoDB sizes it (names and values):", "",
                  "| user agent | now | before |", "|---|---|---|"]
        for name, size in item.items():
            lines.append(f"| {name} | {size['now']} bytes | {size['before']} bytes |")
        flat = [units for _, units in sorted(reads.items(), key=lambda kv: int(kv[0]))][1:]
        glance.append(f"| read units per stats call independent of clicks | "
                      f"{', '.join(str(u) for u in flat)} at {', '.join(f'{int(c):,}' for c in sorted(map(int, reads))[1:])} clicks | "
                      f"{met(len(set(flat)) == 1)} |")
        biggest = max(v["now"] for v in item.values())
        glance.append(f"| DynamoDB click item at most 200 bytes | {biggest} bytes at most | {met(biggest <= 200)} |")
        base = monthly(phases, clicks=200, signups=40, conversions=20, links=40)
        ten = monthly(phases, clicks=2000, signups=400, conversions=200, links=400)
        per_million = base["per"]["click"] * 1e6
        lines += ["", "Prices (on-demand, us-east-1, USD): Lambda $0.20 per million requests and "
                  "$0.0000133334 per GB-second on arm64 (https://aws.amazon.com/lambda/pricing/); DynamoDB "
                  "$0.625 per million write and $0.125 per million read request units "
                  "(https://aws.amazon.com/dynamodb/pricing/on-demand/); SQS $0.40 per million requests "
                  "(https://aws.amazon.com/sqs/pricing/); SES $0.10 per 1,000 emails "
                  "(https://aws.amazon.com/ses/pricing/); Secrets Manager $0.40 per secret-month "
                  "(https://aws.amazon.com/secrets-manager/pricing/); Bedrock Claude Haiku 4.5 $1 per "
                  "million input and $5 per million output tokens (https://aws.amazon.com/bedrock/pricing/); "
                  "CloudWatch Logs $0.50 per GB ingested (https://aws.amazon.com/cloudwatch/pricing/). "
                  "Free tiers are ignored, so the real bill is lower.", "",
                  "Assumptions: rft-edge 512 MB and 10 ms a request; the attributor 50 ms, the rewarder "
                  "300 ms and the minter 1.5 s (the model call) a job; a model call ~600 tokens in and ~120 "
                  "out; a transaction's items at two units each; ~600 bytes of log a request; one link "
                  "minted per sign-up's referrer; SMS left out (email is the default; a UK text is about "
                  "$0.044).", "",
                  f"Per click: **${base['per']['click'] * 1e6:.2f} per million clicks** (one Function URL "
                  "invocation and one DynamoDB write, and the rollups' follower at its dearest, "
                  f"${base['per']['follower'] * 1e6:.2f} of it: each click alone in its stream batch, one "
                  "`rft-sweep` invocation and a three-item transaction; busy codes share batches and cost "
                  "far less: [architecture.md](architecture.md#rollups-reads-that-do-not-grow-with-clicks)).", "",
                  "| month | fixed (one secret) | usage | logs | total | the series |", "|---|---|---|---|---|---|",
                  f"| 200 clicks, 40 sign-ups, 20 conversions, 40 links | ${base['fixed']:.2f} | "
                  f"${base['usage']:.2f} | ${base['logs']:.2f} | **${base['total']:.2f}** | $1.70 |",
                  f"| ten times that | ${ten['fixed']:.2f} | ${ten['usage']:.2f} | ${ten['logs']:.2f} | "
                  f"**${ten['total']:.2f}** | $9 |", "",
                  "Why it is below the series: one secret holds all four values ($0.40, not $0.80), the "
                  "functions are native arm64 binaries billed by the millisecond, and the model is called "
                  "once per link and once per conversion.", ""]
        glance.append(f"| one storage write and no read per cached click | "
                      f"{', '.join(f'{k} {v}' for k, v in phases['click, code cached'].items())} | "
                      f"{met(phases['click, code cached'] == {'DynamoDB.PutItem': 1})} |")
        glance.append(f"| under $1.00 a month at the series' base volume | ${base['total']:.2f} | "
                      f"{met(base['total'] < 1.0)} |")
        _ = per_million

    else:
        kept(lines, glance, ["calls"], previous)

    if prof is not None:
        lines += ["## Profile of the redirect path", "",
                  f"`{commands['profile']}`: callgrind (instruction counts, so repeatable) over rft-local "
                  "serving 2,000 redirects on 4 connections, start-up included. Top functions by their own "
                  f"instructions (of {prof['total']:,} in all); the raw file is `{prof['file']}`.", "",
                  "| instructions | share | function | in |", "|---|---|---|---|"]
        for count, share, fn, where in prof["top"]:
            lines.append(f"| {count:,} | {share} | `{fn[:100]}` | {where} |")
        lines += ["", PROFILE_READING, ""]

    else:
        kept(lines, glance, ["profile"], previous)

    at = lines.index("Targets at a glance:")
    lines[at + 2:at + 2] = ["| target | measured | |", "|---|---|---|", *glance, ""]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip", default="",
                        help="comma-separated sections to leave out (criterion, http, growth, sigkill, cold, size, "
                             "calls, profile); docs/benchmarks.md keeps what it had for them, saying when it was measured")
    parser.add_argument("--seconds", type=int, default=15, help="per HTTP run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of HTTP runs")
    parser.add_argument("--before", default=None,
                        help="an earlier rft-local binary to measure beside this one (HTTP and growth)")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    commands = {
        "criterion": "cargo bench -p rft-bench --bench hot_paths",
        "http": "make bench (scripts/bench.py http): oha -z {s}s -c 50 [-q 1000 --latency-correction], "
                "CPU from /proc".format(s=args.seconds),
        "growth": "make bench (scripts/bench.py growth)",
        "cold": "make bench (scripts/bench.py cold)",
        "size": "make build (cargo lambda build --profile lambda --arm64)",
        "calls": "RFT_BENCH_CALLS=... cargo nextest run -E 'test(aws_calls_per_click_sign_up_and_conversion)'",
        "reads": "RFT_BENCH_READS=... cargo nextest run -E 'test(stats_read_units_do_not_grow_with_clicks)'",
        "item": "RFT_BENCH_ITEM=... cargo nextest run -E 'test(a_click_item_is_at_most_200_bytes)'",
        "profile": "valgrind --tool=callgrind target/profiling/rft-local serve ...; callgrind_annotate",
    }
    previous = previous_report()
    m = machine()
    crit = None if "criterion" in skip else criterion()
    if not {"http", "growth", "cold", "profile"} <= skip:
        build_profiling()
    web = None
    if "http" not in skip:
        web = http_bench(args.seconds, args.rounds, args.before)
        web.update(seconds=args.seconds, rounds=args.rounds, before=args.before)
        web["oha"] = subprocess.run([OHA, "--version"], capture_output=True, text=True).stdout.strip()
    grown = None
    if "growth" not in skip:
        grown = {"now": growth(os.path.join(PROFILE_DIR, "rft-local"))}
        if args.before:
            grown["before"] = growth(args.before, with_overview=False)
    killed = None if "sigkill" in skip else sigkill()
    cold = None if "cold" in skip else cold_start()
    size = None if "size" in skip else sizes()
    phases = None if "calls" in skip else calls()
    prof = None if "profile" in skip else profile()
    text = report(m, crit, web, grown, killed, cold, size, phases, prof, commands, previous)
    with open(os.path.join(ROOT, "docs", "benchmarks.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
