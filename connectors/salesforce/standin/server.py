"""HTTPS transport: a threading HTTP/1.1 server speaking TLS with a throwaway CA's certificate.

The TLS handshake runs on the connection's own thread, so a client that connects and stalls
cannot block others. Open connections are tracked so :meth:`HttpsServer.close` ends keep-alive
connections too: a stopped stand-in answers nothing. Responses are gzip-compressed when the
client asks (as Salesforce does); a "drop" answer closes the socket with a TCP reset and no
HTTP response at all.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import socket
import ssl
import struct
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from connectors.salesforce.standin.api import JSON_TYPE, Api, Request, Response

log = logging.getLogger(__name__)

GZIP_MIN_BYTES = 1024
HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 60.0


class HttpsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: Api, context: ssl.SSLContext) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self.context = context
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that does not trust our CA, or went away mid-handshake
        conn.settimeout(IDLE_TIMEOUT)
        with self._conn_lock:
            self._connections.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)  # type: ignore[arg-type]  # typeshed: Self
        except (ssl.SSLError, OSError):
            pass
        finally:
            with self._conn_lock:
                self._connections.discard(conn)
            _close(conn)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            _reset(conn)


def _close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    conn.close()


def _reset(conn: socket.socket) -> None:
    """Close with RST: to the client this is a connection dropped mid-request."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the client's delayed ACK adds
    # ~40 ms to every response.
    disable_nagle_algorithm = True
    server: HttpsServer
    def version_string(self) -> str:
        return "SFDC-standin"

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines carry SOQL with record values."""

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        body = self._body()
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip" and body:
            body = gzip.decompress(body)
        request = Request(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                          cast(Mapping[str, str], self.headers),
                          body)
        try:
            response = self.server.api.handle(request)
        except Exception:  # a stand-in bug must look like a Salesforce 500, not a hung client
            log.exception("unhandled error answering %s %s", self.command, parts.path)
            response = Response(500, b'[{"message":"An unexpected error occurred.","errorCode":"UNKNOWN_EXCEPTION"}]',
                                JSON_TYPE)
        if response.drop:
            self.close_connection = True
            _reset(self.connection)
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        payload = response.body
        accepts_gzip = "gzip" in (self.headers.get("Accept-Encoding") or "").lower()
        compressed = accepts_gzip and len(payload) >= GZIP_MIN_BYTES
        if compressed:
            payload = gzip.compress(payload, compresslevel=1)
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        if compressed:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _dispatch
