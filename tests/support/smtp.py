"""A real SMTP server for tests: aiosmtpd requiring STARTTLS (or implicit TLS) and AUTH.

The certificate is generated here with ``cryptography``; its file doubles as the CA bundle
the relay verifies the server with. Listens on 127.0.0.1 and a free port; ``stop()`` then
``start()`` brings it back on the same port (an SMTP outage).
"""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from tlscert import self_signed

from helpers import free_port

SMTP_USER, SMTP_PASSWORD = "relay", "s3cret-smtp-pässword"


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed CA certificate for 127.0.0.1/localhost; returns (cert, key) paths."""
    return self_signed(directory / "smtp-cert.pem", directory / "smtp-key.pem", ca=True)


class _Handler:
    def __init__(self, sink: list[dict[str, Any]], lock: threading.Lock, implicit_tls: bool):
        self.sink, self.lock, self.implicit_tls = sink, lock, implicit_tls

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.sink.append(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "message": msg,
                    "tls": self.implicit_tls or session.ssl is not None,
                    "session": session.peer,  # a new connection has a new source port
                    "auth": session.authenticated,
                }
            )
        return "250 OK"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (
        data.login.decode() == SMTP_USER and data.password.decode() == SMTP_PASSWORD
    )
    return AuthResult(success=ok, handled=False)


class SmtpServer:
    """aiosmtpd requiring TLS (STARTTLS, or implicit when ``implicit_tls``) and AUTH."""

    def __init__(self, directory: Path, implicit_tls: bool = False):
        self.cert, self.key = make_cert(directory)
        self.port = free_port()
        self.implicit_tls = implicit_tls
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def start(self) -> SmtpServer:
        tls: dict[str, Any] = (
            {"ssl_context": self._context()}
            if self.implicit_tls
            else {"tls_context": self._context(), "require_starttls": True}
        )
        self._controller = Controller(
            _Handler(self.messages, self._lock, self.implicit_tls),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=_authenticator,
            auth_required=True,
            # aiosmtpd only counts STARTTLS as TLS here; implicit TLS is TLS from the first byte.
            auth_require_tls=not self.implicit_tls,
            server_hostname="localhost",
            **tls,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def subjects(self) -> list[str]:
        with self._lock:
            return [str(m["message"]["Subject"]) for m in self.messages]

    def bodies(self) -> list[str]:
        with self._lock:
            return [m["message"].get_content() for m in self.messages]

    def config(self, to: list[str] | None = None) -> dict[str, Any]:
        """The relay's channels.email section for this server."""
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "security": "tls" if self.implicit_tls else "starttls",
            "username": SMTP_USER,
            "password": SMTP_PASSWORD,
            "ca_file": str(self.cert),
            "from": "napops alerts <alerts@np-dms.test>",
            "to": to or ["ops@np-dms.test"],
            "timeout_seconds": 5,
        }
