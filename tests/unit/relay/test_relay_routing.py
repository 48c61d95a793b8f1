"""Channel choice: ?channels= hint > first matching route > default_channels."""

from __future__ import annotations

import pytest

from napops.relay.errors import NoChannel, PayloadError
from napops.relay.routing import decide, parse_hint

SECTION = {
    "default_channels": ["email", "rocketchat"],
    "routes": [
        {"match": {"severity": "warning"}, "channels": ["rocketchat"]},
        {"match": {"team": "db"}, "email_to": ["dba@x.test"], "email_from": "db@x.test"},
    ],
}
BOTH = ["email", "rocketchat"]


def data(**labels):
    return {"commonLabels": labels}


def test_hint_parsing():
    assert parse_hint(None) is None and parse_hint(" ") is None
    assert parse_hint("email, rocketchat,email") == ["email", "rocketchat"]
    with pytest.raises(PayloadError, match="pager"):
        parse_hint("email,pager")


def test_precedence():
    assert decide(data(severity="warning"), ["email"], SECTION, BOTH).channels == ["email"]
    assert decide(data(severity="warning"), None, SECTION, BOTH).channels == ["rocketchat"]
    assert decide(data(severity="critical"), None, SECTION, BOTH).channels == BOTH


def test_route_recipients_apply_whatever_chose_the_channels():
    d = decide(data(team="db"), ["email"], SECTION, BOTH)
    assert (d.channels, d.email_to, d.email_from) == (["email"], ["dba@x.test"], "db@x.test")


def test_unconfigured_channels_are_dropped_and_none_left_is_an_error():
    assert decide(data(), None, SECTION, ["rocketchat"]).channels == ["rocketchat"]
    with pytest.raises(NoChannel):
        decide(data(), ["email"], SECTION, ["rocketchat"])
