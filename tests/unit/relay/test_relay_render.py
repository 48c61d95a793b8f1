"""Rendering: subjects that say what is broken where, all facts, colours, notes, Thai."""

from __future__ import annotations

import copy
import json

from helpers import FIXTURES
from napops.relay.render import COLOURS, Options, render, render_alert, render_notice, subject

DATA = json.loads((FIXTURES / "alertmanager" / "firing-group.json").read_text(encoding="utf-8"))
OPTS = Options(("host", "service"), "Asia/Bangkok", "https://grafana/d/x?var-instance={instance}")


def test_subject_names_alert_and_place():
    assert subject(DATA, ("host", "service")) == "[FIRING:2] BackendDown qnap backend"
    resolved = copy.deepcopy(DATA)
    resolved["status"] = "resolved"
    for a in resolved["alerts"]:
        a["status"] = "resolved"
    assert subject(resolved, ("host", "service")) == "[RESOLVED] BackendDown qnap backend"


def test_subject_falls_back_to_group_labels():
    data = copy.deepcopy(DATA)
    data["commonLabels"] = {"alertname": "TargetDown"}
    data["groupLabels"] = {"alertname": "TargetDown", "instance": "node:9100"}
    assert subject(data, ("host",)) == "[FIRING:2] TargetDown node:9100"


def test_email_body_has_every_fact_of_every_alert():
    text = render_alert(DATA, [], OPTS).text
    for fact in (
        "[FIRING] Backend is down on qnap",
        "Description: ระบบ backend ไม่ตอบสนอง (probe failed for 20s). Value: 0",
        "Runbook: https://git.np-dms.work/ops/napops/src/branch/main/docs/runbooks/target-down.md",
        "Prometheus: http://prometheus:9090/graph?g0.expr=probe_success%3D%3D0",
        "Grafana: https://grafana/d/x?var-instance=backend:3000",
        "Alertmanager: http://vm:19093/#/alerts",
        "Since: 2026-11-27 00:34:08 +07",
        "[FIRING] Backend TCP port closed",
        "probe=tcp",
    ):
        assert fact in text, fact


def test_value_annotation_is_shown():
    data = copy.deepcopy(DATA)
    data["alerts"][1]["annotations"]["value"] = "97.3 %"
    assert "Value: 97.3 %" in render_alert(data, [], OPTS).text


def test_rocketchat_payload_colours_and_fields():
    chat = render_alert(DATA, [], OPTS).rocketchat
    assert chat["text"] == "*[FIRING:2] BackendDown qnap backend*"
    first = chat["attachments"][0]
    assert first["color"] == COLOURS["critical"]
    assert first["title_link"].startswith("http://prometheus:9090/")
    assert {"short": True, "title": "service", "value": "backend"} in first["fields"]
    assert "title_link" not in chat["attachments"][1]  # empty generatorURL
    warn = copy.deepcopy(DATA)
    for a in warn["alerts"]:
        a["labels"]["severity"] = "warning"
    assert render_alert(warn, [], OPTS).rocketchat["attachments"][0]["color"] == "#f2a900"
    warn["alerts"][0]["status"] = "resolved"
    assert render_alert(warn, [], OPTS).rocketchat["attachments"][0]["color"] == "#2eb886"


def test_notes_come_first_on_both_channels():
    note = "email delivery failing since 10:02: SMTPConnectError: refused"
    out = render_alert(DATA, [note], OPTS)
    assert out.text.startswith(f"NOTE: {note}\n")
    assert out.rocketchat["text"].startswith(f":warning: {note}\n")


def test_notice_rendering():
    out = render(
        "notice",
        {
            "title": "monitoring pipeline down",
            "text": "ไม่มี heartbeat",
            "severity": "critical",
            "status": "firing",
        },
        [],
        OPTS,
    )
    assert out.subject == "monitoring pipeline down" and "ไม่มี heartbeat" in out.text
    assert out.rocketchat["attachments"][0]["color"] == COLOURS["critical"]
    ok = render_notice({"title": "back", "status": "resolved"}, [])
    assert ok.rocketchat["attachments"][0]["color"] == COLOURS["resolved"]


def test_big_groups_are_capped_on_chat_but_complete_by_email():
    data = copy.deepcopy(DATA)
    data["alerts"] = [copy.deepcopy(DATA["alerts"][0]) for _ in range(25)]
    out = render_alert(data, [], OPTS)
    assert len(out.rocketchat["attachments"]) == 20
    assert out.rocketchat["attachments"][-1]["title"] == "... and 6 more alerts (see the email)"
    assert out.text.count("[FIRING] Backend is down on qnap") == 25


def test_email_subject_adds_instance_and_summary_where_they_fit():
    from napops.relay.render import email_subject

    # two alerts on one instance with different summaries: the instance only
    assert email_subject(DATA, ("host", "service")) == (
        "[FIRING:2] BackendDown qnap backend backend:3000"
    )
    one = copy.deepcopy(DATA)
    one["alerts"] = one["alerts"][:1]
    assert email_subject(one, ("host", "service")) == (
        "[FIRING:1] BackendDown qnap backend backend:3000: Backend is down on qnap"
    )
    # an instance already named (here through the group labels) is not repeated
    bare = copy.deepcopy(one)
    bare["commonLabels"] = {"alertname": "BackendDown"}
    assert (
        email_subject(bare, ("host",))
        == "[FIRING:1] BackendDown backend:3000: Backend is down on qnap"
    )
    # what does not fit is left out, never cut in the middle
    long = copy.deepcopy(one)
    long["alerts"][0]["annotations"]["summary"] = "x" * 200
    assert email_subject(long, ("host", "service")) == (
        "[FIRING:1] BackendDown qnap backend backend:3000"
    )
    assert render_alert(one, [], OPTS).subject == email_subject(one, ("host", "service"))
    # the chat post keeps the short headline
    assert render_alert(one, [], OPTS).rocketchat["text"] == "*[FIRING:1] BackendDown qnap backend*"


def test_html_part_escapes_colours_and_links():
    data = copy.deepcopy(DATA)
    data["alerts"][0]["annotations"]["description"] = '<script>alert("x")</script> & ระบบ'
    data["alerts"][1]["status"] = "resolved"
    data["alerts"][1]["annotations"]["runbook_url"] = "javascript:alert(1)"
    page = render_alert(data, ["email delivery failing since 10:02: <refused>"], OPTS).html
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; ระบบ" in page
    assert "&lt;refused&gt;" in page  # notes are escaped too
    assert f"border-left:6px solid {COLOURS['critical']}" in page  # the firing alert
    assert f"border-left:6px solid {COLOURS['resolved']}" in page  # the resolved one
    runbook = DATA["alerts"][0]["annotations"]["runbook_url"]
    assert f'<a href="{runbook}">Runbook</a>' in page
    assert '<a href="https://grafana/d/x?var-instance=backend:3000">Grafana panel</a>' in page
    assert 'href="javascript:' not in page  # only http(s) becomes a link
    warn = copy.deepcopy(DATA)
    for a in warn["alerts"]:
        a["labels"]["severity"] = "warning"
    assert f"solid {COLOURS['warning']}" in render_alert(warn, [], OPTS).html


def test_email_is_multipart_text_then_html_with_thai_intact():
    from email import message_from_bytes, policy

    from napops.relay.channels.email import build_message

    out = render_alert(DATA, [], OPTS)
    msg = build_message(out, "napops <alerts@np-dms.test>", ["ops@np-dms.test"])
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in parsed.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert parsed.get_body(("plain",)).get_content().rstrip() == out.text.rstrip()
    assert "ระบบ backend ไม่ตอบสนอง" in parsed.get_body(("html",)).get_content()
    assert str(parsed["Subject"]) == out.subject


def test_a_long_subject_is_not_folded_into_a_leading_space():
    from email import message_from_bytes, policy

    from napops.relay.channels.email import build_message, flatten
    from napops.relay.render import Rendered

    for subj in (
        "[FIRING:1] BackendDown qnap backend backenddown-0:9100: BackendDown 0 is down",
        "[FIRING:1] BackendDown qnap backend:3000: ระบบ backend ไม่ตอบสนอง (probe failed)",
    ):
        msg = build_message(Rendered(subj, "ข้อความ x"), "a@np-dms.test", ["b@np-dms.test"])
        for eight_bit in (True, False):
            parsed = message_from_bytes(flatten(msg, eight_bit), policy=policy.default)
            assert str(parsed["Subject"]) == subj
            assert parsed.get_content().strip() == "ข้อความ x"
