"""Webhook authentication: bearer tokens, HMAC signatures, JSON content type."""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, request

from napops.core.webhook import bearer_ok, require_json, signature_ok

BODY = b'{"ref":"refs/heads/main"}'
SECRET = "s3cret-of-the-repository"


def test_bearer_tokens():
    assert bearer_ok("Bearer abc", "abc")
    assert bearer_ok("bearer  abc ", ["zzz", "abc"])
    assert not bearer_ok("Bearer abd", "abc")
    assert not bearer_ok("Basic abc", "abc")
    assert not bearer_ok(None, "abc")
    assert not bearer_ok("Bearer ", "")
    assert not bearer_ok("Bearer abc", [])


def test_signatures_are_hex_hmac_sha256_of_the_raw_body():
    good = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert signature_ok(BODY, good, SECRET)
    assert signature_ok(BODY, good.upper(), SECRET)
    assert signature_ok(BODY, f"sha256={good}", SECRET)
    assert not signature_ok(BODY + b" ", good, SECRET)
    assert not signature_ok(BODY, good, "other")
    assert not signature_ok(BODY, "", SECRET)
    assert not signature_ok(BODY, None, SECRET)


def test_json_is_required():
    app = Flask("t")
    with app.test_request_context("/", method="POST", data=BODY, content_type="text/plain"):
        refused = require_json(request)
        assert refused is not None and refused[1] == 415
        assert "text/plain" in refused[0].get_json()["reason"]
    with app.test_request_context(
        "/", method="POST", data=BODY, content_type="application/json; charset=utf-8"
    ):
        assert require_json(request) is None
