"""The deploy tests' application: a tiny HTTP server in three behaviours (APP_MODE).

good: GET /api/version answers APP_VERSION, /health 200. never: /health always 503 (a version
that never becomes healthy). sour: /health 200 for APP_SOUR_AFTER seconds, then 500 (passes the
health gate, fails the verification window); /api/version keeps answering. SIGTERM closes the
listening socket at once and lets requests in flight finish (a graceful stop, as Node's
server.close() does).
"""

import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("APP_VERSION", "v?")
MODE = os.environ.get("APP_MODE", "good")
SOUR_AFTER = float(os.environ.get("APP_SOUR_AFTER", "6"))
STARTED = time.monotonic()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path in ("/health", "/api/health"):
            age = time.monotonic() - STARTED
            if MODE == "never":
                return self.answer(503, f"{VERSION} never becomes healthy")
            if MODE == "sour" and age > SOUR_AFTER:
                return self.answer(500, f"{VERSION} went sour after {SOUR_AFTER:g} s")
            return self.answer(200, "ok")
        if self.path.startswith("/api/"):
            return self.answer(200, VERSION)
        return self.answer(404, "not found")

    def answer(self, code, text):
        body = (text + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for requests in flight
    request_queue_size = 128


server = Server(("0.0.0.0", int(os.environ.get("PORT", "3000"))), Handler)


def stop(*_):
    threading.Thread(target=server.shutdown).start()


signal.signal(signal.SIGTERM, stop)
server.serve_forever(poll_interval=0.05)
server.server_close()
