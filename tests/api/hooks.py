"""Schemathesis hooks for the referral tracker: sign what it sends.

Signed routes need a Standard Webhooks signature over the exact bytes sent, so signing happens
on the prepared request (a `requests` auth object), after schemathesis has serialised the body.
A case that schemathesis made invalid in its headers on purpose is left as generated, so the
server's refusal is what gets checked. Portal and ops-queue links are signed with the ops
secret for half of the cases, so their pages and JSON are checked too, not only their 403s.

The console's routes (`/admin/api/*`) get a session cookie and its CSRF token through the
schema's security schemes (tests/api/schemathesis.toml, values from scripts/api_check.py), so
their answers are checked, and so is their refusal without them.

Environment: RFT_SIGNING_SECRET and RFT_OPS_SECRET, the values the server was started with.
"""

import os
import time
import zlib

import requests
import schemathesis
from schemathesis.core.parameters import ParameterLocation

from rftlocal import fresh_id, link_query, signature


class StandardWebhooksSigner(requests.auth.AuthBase):
    """Signs the prepared request's final bytes with a fresh id and the current time."""

    def __call__(self, request):
        headers = request.headers
        if "webhook-signature" not in headers:
            return request  # the route is not signed, or the case leaves the signature out
        # A fresh id per request: schemathesis repeats values, and a repeated id is a replay.
        msg_id = fresh_id("msg_st")
        timestamp = str(int(time.time()))
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        headers["webhook-id"] = msg_id
        headers["webhook-timestamp"] = timestamp
        headers["webhook-signature"] = signature(os.environ["RFT_SIGNING_SECRET"], msg_id, timestamp, body)
        return request


def _negative_at(case, location):
    return case.meta is not None and case.meta.is_negative_at(location)


@schemathesis.hook
def before_call(ctx, case, kwargs):
    # A case made invalid in its headers keeps them as generated: the refusal is what is
    # tested. Every other case is signed, so an invalid body or path meets its own check.
    if not _negative_at(case, ParameterLocation.HEADER):
        kwargs["auth"] = StandardWebhooksSigner()
    path = case.operation.path
    if path == "/admin/api/events":
        # An EventSource's Accept would hold the stream open; anything else gets one event.
        case.headers = dict(case.headers or {}, accept="*/*")
    # Half of the page cases get a genuine link, so the pages and their JSON are checked too.
    query = case.query
    if query is None or _negative_at(case, ParameterLocation.QUERY):
        return
    if zlib.crc32(repr(sorted(query.items())).encode()) % 2:
        return
    ops = os.environ["RFT_OPS_SECRET"]
    if path in ("/me", "/me/data", "/me/invites"):
        case.query = dict(query, customer="c_dan", **link_query(ops, "portal", "c_dan"))
    elif path in ("/ops", "/ops/data"):
        case.query = dict(query, **link_query(ops, "queue", ""))
