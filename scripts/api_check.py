#!/usr/bin/env python3
"""Property-test the HTTP API against docs/openapi.yaml with schemathesis.

    python3 scripts/api_check.py --binary target/debug/rft-local --max-examples 25

Starts rft-local on a free port with fresh secrets, seeds it (Dan's code, a click, Mara's
sign-up, a conversion) so the documented examples reach real data, then runs every operation
with every check: no 5xx, every status, header and body as documented, invalid input refused,
unknown methods 405. Signing is wired in by tests/api/hooks.py. Exits non-zero on any failure.
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rftlocal import ROOT, console_session, running  # noqa: E402


def seed(local):
    status, _, link = local.call("POST", "/api/links", {"customer_id": "c_dan", "first_name": "Dan",
                                                        "email": "dan@example.com"})
    assert status in (200, 201), (status, link)
    status, _, _ = local.call("POST", "/webhooks/signup", {"customer_id": "c_mara", "email": "mara@example.com",
                                                          "first_name": "Mara", "code": link["code"]})
    assert status == 202, status
    deadline = time.time() + 30
    while local.call("GET", "/api/referrals/c_mara")[0] != 200:
        if time.time() > deadline:
            raise SystemExit("api_check: Mara's sign-up was not attributed within 30 s")
        time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "debug", "rft-local"))
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed, to repeat a run")
    # One worker: with more, Python 3.11.7 sometimes aborts in hypothesis ("AST constructor
    # recursion depth mismatch"), a CPython bug, not ours.
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    schemathesis = os.path.join(ROOT, ".venv", "bin", "schemathesis")
    with running(args.binary, log_name="api-check-rft-local.log") as local:
        seed(local)
        command = [schemathesis, "--config-file", os.path.join(ROOT, "tests", "api", "schemathesis.toml"),
                   "run", os.path.join(ROOT, "docs", "openapi.yaml"), "--url", local.base,
                   "--checks", "all", "--max-examples", str(args.max_examples), "--workers", str(args.workers),
                   "--no-color", "--generation-database", "none", "--report", "junit",
                   "--report-dir", os.path.join(ROOT, "target", "schemathesis")]
        if args.seed is not None:
            command += ["--seed", str(args.seed)]
        # A console session for the team address (a long run takes hours): the schema's
        # consoleSession and consoleCsrf schemes read these (tests/api/schemathesis.toml).
        cookie, csrf = console_session(local.env["RFT_OPS_SECRET"], "referrals@freshbox.uk", ttl=12 * 3600)
        env = {**os.environ, **local.env, "RFT_CONSOLE_SESSION": cookie, "RFT_CONSOLE_CSRF": csrf,
               "SCHEMATHESIS_HOOKS": "hooks",
               "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "tests", "api"), os.path.dirname(__file__)])}
        print("api_check:", " ".join(command), flush=True)
        sys.exit(subprocess.call(command, env=env, cwd=ROOT))


if __name__ == "__main__":
    main()
