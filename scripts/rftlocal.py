"""Shared by the API check and the load test: start `rft-local serve` on a free loopback port
with fresh secrets and data, sign requests as the store does, and stop it afterwards.
Standard library only.
"""

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ids = itertools.count()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_secrets():
    """Values for RFT_SIGNING_SECRET, RFT_OPS_SECRET, RFT_STORE_API_KEY, RFT_IDENTITY_KEY."""
    return {
        "RFT_SIGNING_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "RFT_OPS_SECRET": secrets.token_urlsafe(32),
        "RFT_STORE_API_KEY": secrets.token_urlsafe(32),
        "RFT_IDENTITY_KEY": secrets.token_urlsafe(32),
    }


def signature(signing_secret, msg_id, timestamp, body):
    """`v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}` (Standard Webhooks)."""
    key = base64.b64decode(signing_secret.split()[0].removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def fresh_id(prefix="msg"):
    return f"{prefix}_{os.getpid()}_{time.monotonic_ns()}_{next(_ids)}"


def link_query(ops_secret, purpose, subject, ttl=3600):
    """`exp` and `sig` of a people's link (portal, ops queue), as the server signs them."""
    exp = int(time.time()) + ttl
    content = f"rft-link.v1\n{purpose}\n{subject}\n\n{exp}".encode()
    digest = hmac.new(ops_secret.encode(), content, hashlib.sha256).digest()
    return {"exp": str(exp), "sig": base64.urlsafe_b64encode(digest).rstrip(b"=").decode()}


def console_session(ops_secret, email, ttl=3600):
    """A console session cookie's value and its CSRF token, as the server signs them."""
    session = "s" + secrets.token_hex(12)
    exp = int(time.time()) + ttl

    def sign(content):
        digest = hmac.new(ops_secret.encode(), content.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    address = base64.urlsafe_b64encode(email.encode()).rstrip(b"=").decode()
    cookie = f"{address}.{session}.{exp}." + sign(f"rft-link.v1\nconsole-session\n{email}\n{session}\n{exp}")
    return cookie, sign(f"rft-link.v1\nconsole-csrf\n{session}\n\n{exp}")


class Local:
    """A running rft-local: its base URL, secrets and a signed JSON client."""

    def __init__(self, base, env, data, pid=None):
        self.base, self.env, self.data, self.pid = base, env, data, pid

    def call(self, method, path, body=None, msg_id=None, signed=True, timeout=30):
        """Returns (status, headers, parsed JSON or text)."""
        raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        headers = {"content-type": "application/json"}
        if signed:
            msg_id = msg_id or fresh_id()
            ts = str(int(time.time()))
            headers.update({
                "webhook-id": msg_id,
                "webhook-timestamp": ts,
                "webhook-signature": signature(self.env["RFT_SIGNING_SECRET"], msg_id, ts, raw),
            })
        request = urllib.request.Request(self.base + path, data=raw if method != "GET" else None,
                                         headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:
                status, answer_headers, text = r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            status, answer_headers, text = e.code, dict(e.headers), e.read()
        try:
            return status, answer_headers, json.loads(text)
        except ValueError:
            return status, answer_headers, text.decode(errors="replace")


def settings_for(addr, overrides=None):
    """settings.local.toml pointed at `addr`, with `overrides` ({"section.key": "toml value"})
    replacing or adding keys."""
    text = open(os.path.join(ROOT, "settings.local.toml")).read().replace("127.0.0.1:3000", addr)
    for dotted, value in (overrides or {}).items():
        section, key = dotted.rsplit(".", 1)
        header = f"[{section}]\n"
        start = text.index(header) + len(header)
        end = text.find("\n[", start)
        end = len(text) if end < 0 else end + 1
        body, n = re.subn(rf"(?m)^{re.escape(key)}\s*=.*$", f"{key} = {value}", text[start:end])
        if n == 0:
            body = f"{key} = {value}\n" + body
        text = text[:start] + body + text[end:]
    return text


@contextlib.contextmanager
def running(binary, overrides=None, log_name="rft-local.log"):
    """Starts `binary serve` on a free port with fresh secrets and an empty data directory."""
    port = free_port()
    addr = f"127.0.0.1:{port}"
    work = tempfile.mkdtemp(prefix="rft-local-")
    settings = os.path.join(work, "settings.toml")
    with open(settings, "w") as f:
        f.write(settings_for(addr, overrides))
    env = new_secrets()
    log_path = os.path.join(ROOT, "target", log_name)
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [binary, "serve", "--settings", settings, "--data", os.path.join(work, "data"),
         "--listen", addr, "--outbox", os.path.join(work, "outbox")],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}, start_new_session=True)
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"rft-local exited with {proc.returncode}; see {log_path}")
            try:
                with urllib.request.urlopen(f"http://{addr}/healthz", timeout=1):
                    break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit(f"rft-local did not answer within 60 s; see {log_path}")
                time.sleep(0.1)
        yield Local(f"http://{addr}", env, os.path.join(work, "data"), proc.pid)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        # A load run leaves hundreds of megabytes; its writeback would disturb the next run.
        shutil.rmtree(work, ignore_errors=True)
