"""Email through SMTP with aiosmtplib: STARTTLS or implicit TLS, optional AUTH.

Sender and recipients come from the message's route (``email_from``/``email_to`` stored with
it) or the channel defaults. The body is UTF-8 text, the subject RFC 2047-encoded, so Thai
arrives intact; a message with an HTML rendering is multipart/alternative (the text part
first, as plain-text readers show it). One SMTP session is kept open between messages (a
queue drains without a TLS handshake and AUTH per message); a session idle longer than
``IDLE_SECONDS`` or closed by the server is replaced, and a stale session gets one retry on a
fresh one.
"""

from __future__ import annotations

import asyncio
import email.policy
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

import aiosmtplib

from ..errors import ChannelError
from ..render import Rendered

IDLE_SECONDS = 30.0
# Headers are written unfolded up to SMTP's 998: folding at 78 columns can move a long subject
# to the next line as a whole, and readers then show it with a leading space.
WIRE_POLICY = email.policy.SMTP.clone(max_line_length=998)
_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError)


def build_message(rendered: Rendered, sender: str, to: list[str]) -> EmailMessage:
    """The MIME message for ``rendered`` (pure; no I/O)."""
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rsplit("@", 1)[-1])
    msg["X-Napops-Relay"] = "1"
    msg.set_content(rendered.text, charset="utf-8")
    if rendered.html:
        msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return msg


def flatten(msg: EmailMessage, eight_bit: bool) -> bytes:
    """The bytes sent for ``msg`` (CRLF lines; 8-bit parts re-encoded unless the server
    takes 8BITMIME)."""
    return msg.as_bytes(policy=WIRE_POLICY.clone(cte_type="8bit" if eight_bit else "7bit"))


class EmailChannel:
    """Sends over SMTP. ``smtp_factory`` makes the client (tests may wrap aiosmtplib.SMTP).

    Not thread-safe: one worker thread uses it (its event loop lives in the object).
    """

    name = "email"

    def __init__(self, cfg: dict[str, Any], smtp_factory: Callable[..., Any] = aiosmtplib.SMTP):
        self.cfg = cfg
        self._factory = smtp_factory
        self._loop = asyncio.new_event_loop()
        self._client: Any = None
        self._last_used = 0.0

    def send(self, rendered: Rendered, body: dict[str, Any]) -> None:
        """Deliver to the route's or default recipients. Raises ChannelError."""
        sender = body.get("email_from") or self.cfg["from"]
        to = body.get("email_to") or self.cfg["to"]
        msg = build_message(rendered, sender, to)
        envelope = (parseaddr(sender)[1], [parseaddr(a)[1] for a in to])  # bare addresses
        try:
            self._loop.run_until_complete(self._deliver(msg, *envelope))
        except _ERRORS as exc:
            self._loop.run_until_complete(self._drop())
            raise ChannelError(f"{type(exc).__name__}: {exc}"[:300]) from None

    async def _deliver(self, msg: EmailMessage, sender: str, to: list[str]) -> None:
        stale = time.monotonic() - self._last_used > IDLE_SECONDS
        fresh = False
        if self._client is None or not self._client.is_connected or stale:
            await self._drop()
            self._client, fresh = await self._connect(), True
        try:
            await self._send(msg, sender, to)
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
            if fresh:
                raise
            await self._drop()  # the server closed a kept session: one retry on a new one
            self._client = await self._connect()
            await self._send(msg, sender, to)
        self._last_used = time.monotonic()

    async def _send(self, msg: EmailMessage, sender: str, to: list[str]) -> None:
        # as aiosmtplib's send_message, but flattened with WIRE_POLICY (it folds at 78)
        eight_bit = self._client.supports_extension("8BITMIME")
        options = ["BODY=8BITMIME"] if eight_bit else []
        await self._client.sendmail(sender, to, flatten(msg, eight_bit), mail_options=options)

    async def _connect(self) -> Any:
        cfg = self.cfg
        client = self._factory(
            hostname=cfg["host"],
            port=cfg["port"],
            use_tls=cfg["security"] == "tls",
            start_tls=cfg["security"] == "starttls",
            validate_certs=cfg["validate_certs"],
            cert_bundle=cfg.get("ca_file"),
            timeout=cfg["timeout_seconds"],
        )
        await client.connect()
        if cfg.get("username"):
            await client.login(cfg["username"], cfg.get("password", ""))
        return client

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            client.close()  # no QUIT: the session may be dead, and waiting would block the queue

    def close(self) -> None:
        """Quit the kept session, if any (at shutdown)."""
        if self._client is not None and self._client.is_connected:
            try:
                self._loop.run_until_complete(self._client.quit())
            except _ERRORS:
                pass  # shutting down: a failed QUIT changes nothing
        self._client = None
