#!/usr/bin/env python3
"""Load test on loopback: bounded, stops by itself, exits non-zero if anything is off.

    python3 scripts/load.py --binary target/release/rft-local --oha .tools/bin/oha --seconds 60 --referrals 1000

1. Clicks: `oha` hammers GET /r/{code} for --seconds (a browser user agent, no redirects
   followed, in-flight requests waited for at the end). Every answer must be a 302 to the
   landing page, with no failed request; afterwards the referrer's click count (the signed stats
   API, which counts the click log) must equal the number of 302s served.
2. Referrals: --referrals friends of --referrals/10 referrers sign up and convert, all at once
   from 32 threads, each sign-up and conversion delivered three times (twice with the same
   webhook-id, once with a new one, as a store retrying after a timeout would). Once the queues
   drain, every friend's referral must be rewarded, the store must have received each
   reward exactly once, and the amounts must be what the terms and tiers owe.

The per-IP click limit and the screen's velocity thresholds are raised for the run (all the
load comes from one address and one test), and min_click_to_conversion is 0 s.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rftlocal import fresh_id, running  # noqa: E402

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
OVERRIDES = {
    "links.max_clicks_per_ip_per_hour": "4000000000",
    "screen.max_clicks_per_code_per_hour": "4000000000",
    "screen.max_signups_per_code_per_hour": "1000000",
    "screen.max_signups_per_ip_per_day": "1000000",
    "screen.min_click_to_conversion": '"0s"',
}
FRIENDS_PER_REFERRER = 10


def fail(message):
    print(f"load: FAILED: {message}", flush=True)
    sys.exit(1)


def clicks(local, oha, seconds, connections):
    status, _, link = local.call("POST", "/api/links", {"customer_id": "c_load", "first_name": "Lou"})
    if status != 201:
        fail(f"minting the load code answered {status}: {link}")
    url = f"{local.base}/r/{link['code']}"
    print(f"load: {seconds} s of GET {url} over {connections} connections", flush=True)
    out = subprocess.run([oha, "-z", f"{seconds}s", "-c", str(connections), "-w", "--no-tui",
                          "--output-format", "json", "-H", f"user-agent: {BROWSER}", url],
                         check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    statuses = {int(k): v for k, v in report.get("statusCodeDistribution", {}).items()}
    errors = report.get("errorDistribution", {})
    served = statuses.get(302, 0)
    summary = report["summary"]
    latency = report.get("latencyPercentiles", {})
    print(f"load: {served} redirects, {summary['requestsPerSec']:.0f}/s, "
          f"p50 {latency.get('p50', 0) * 1000:.2f} ms, p99 {latency.get('p99', 0) * 1000:.2f} ms, "
          f"p99.9 {latency.get('p99.9', 0) * 1000:.2f} ms; statuses {statuses}, errors {errors}", flush=True)
    if errors or set(statuses) != {302}:
        fail(f"not every request was a 302: statuses {statuses}, errors {errors}")
    status, _, stats = local.call("GET", "/api/referrers/c_load/stats", timeout=300)
    if status != 200:
        fail(f"stats answered {status}: {stats}")
    logged = stats["stats"]["clicks"]
    print(f"load: {logged} clicks in the click log for {served} redirects served", flush=True)
    if logged != served:
        fail(f"{served} redirects were served but {logged} clicks are in the log")
    return {"redirects": served, "rps": summary["requestsPerSec"], "latency": latency, "logged": logged}


def owed_to_referrer(settings_tiers, base, n):
    """What a referrer's n rewarded referrals pay, step by step up the ladder."""
    total = 0
    for i in range(1, n + 1):
        amount = base
        for tier in settings_tiers:
            if i >= tier["from"]:
                amount = tier["amount_minor"]
        total += amount
    return total


def deliver_thrice(local, path, body):
    """The same event as a store that retries would send it: one id twice, then a new id."""
    msg_id = fresh_id("msg_load")
    answers = [local.call("POST", path, body, msg_id=msg_id)[0] for _ in range(2)]
    answers.append(local.call("POST", path, body)[0])
    return answers


def referrals(local, count):
    referrers = max(1, count // FRIENDS_PER_REFERRER)
    links = {}
    terms = None
    for r in range(referrers):
        status, _, link = local.call("POST", "/api/links", {"customer_id": f"c_ref_{r}"})
        if status != 201:
            fail(f"minting for c_ref_{r} answered {status}: {link}")
        links[r] = link["code"]
        terms = link["terms"]
    friends = [(f"c_friend_{i}", i % referrers) for i in range(count)]

    def journey(friend):
        customer, r = friend
        signup = {"customer_id": customer, "email": f"{customer}@example.com", "code": links[r]}
        answers = deliver_thrice(local, "/webhooks/signup", signup)
        # The conversion may arrive before the sign-up is attributed: the rewarder retries it.
        conversion = {"customer_id": customer, "order_id": f"o_{customer}", "amount_minor": 3499, "currency": "GBP"}
        answers += deliver_thrice(local, "/webhooks/conversion", conversion)
        return answers

    started = time.time()
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = [a for got in pool.map(journey, friends) for a in got]
    counts = collections.Counter(answers)
    print(f"load: {len(answers)} webhook deliveries in {time.time() - started:.1f} s: {dict(counts)}", flush=True)
    # 202 for each first delivery, the replay of the same id 202 (replayed) or 409 while in flight.
    if set(counts) - {202, 409}:
        fail(f"unexpected webhook answers {dict(counts)}")

    deadline = time.time() + 300
    while True:
        _, _, store = local.call("GET", "/demo/api/store", signed=False)
        fulfilled = store["fulfilled"]
        if len(fulfilled) >= 2 * count or time.time() > deadline:
            break
        time.sleep(1)
    time.sleep(2)  # anything paid twice would arrive now
    _, _, store = local.call("GET", "/demo/api/store", signed=False)
    fulfilled = store["fulfilled"]
    keys = collections.Counter(f["idempotency_key"] for f in fulfilled)
    repeated = [k for k, n in keys.items() if n > 1]
    if repeated:
        fail(f"the store received {len(repeated)} rewards twice, e.g. {repeated[:3]}")
    if len(fulfilled) != 2 * count:
        fail(f"the store received {len(fulfilled)} rewards; {2 * count} are owed")

    not_rewarded = []
    for customer, _ in friends:
        status, _, referral = local.call("GET", f"/api/referrals/{customer}")
        if status != 200 or referral["state"] != "rewarded":
            not_rewarded.append((customer, status, referral.get("state") if isinstance(referral, dict) else referral))
    if not_rewarded:
        fail(f"{len(not_rewarded)} referrals are not rewarded, e.g. {not_rewarded[:3]}")

    base = terms["referrer_reward"]["amount_minor"]
    friend_amount = terms["friend_reward"]["amount_minor"]
    per_referrer = collections.Counter(r for _, r in friends)
    owed = sum(owed_to_referrer(terms["tiers"], base, n) for n in per_referrer.values()) + friend_amount * count
    paid = sum(f["reward"]["amount_minor"] for f in fulfilled)
    print(f"load: {len(fulfilled)} rewards applied once each; {paid} minor units paid, {owed} owed", flush=True)
    if paid != owed:
        fail(f"paid {paid} but {owed} is owed")
    for r, n in per_referrer.items():
        _, _, stats = local.call("GET", f"/api/referrers/c_ref_{r}/stats")
        earned = sum(e["amount_minor"] for e in stats["stats"]["earned"])
        if stats["stats"]["rewarded"] != n or earned != owed_to_referrer(terms["tiers"], base, n):
            fail(f"c_ref_{r}: stats say {stats['stats']['rewarded']} rewarded, {earned} earned; expected {n}")
    return {"referrals": count, "rewards": len(fulfilled), "paid_minor": paid}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--oha", required=True)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--referrals", type=int, default=1000)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    with running(args.binary, OVERRIDES, log_name="load-rft-local.log") as local:
        figures = {"clicks": clicks(local, args.oha, args.seconds, args.connections),
                   "referrals": referrals(local, args.referrals)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    print("load: passed", flush=True)


if __name__ == "__main__":
    main()
