from __future__ import annotations

import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from tests.loopback_proxy import is_loopback, loopback_proxy


def test_loopback_names_are_recognised() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.9.9.9", "localhost", "[::1]", "::1"))
    assert not any(is_loopback(h) for h in ("10.0.0.1", "example.com", "192.168.1.1", ""))


def test_outside_connect_is_refused_and_recorded() -> None:
    with loopback_proxy() as proxy:
        port = int(proxy.url.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("CONNECT", "example.com:443")
        assert conn.getresponse().status == 403
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "http://example.com/telemetry")
        assert conn.getresponse().status == 403
        assert proxy.refused_since(0) == [
            "CONNECT example.com:443",
            "GET http://example.com/telemetry",
        ]


def test_loopback_destinations_pass_through() -> None:
    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"127.0.0.1:{server.server_address[1]}"
    try:
        with loopback_proxy() as proxy:
            port = int(proxy.url.rsplit(":", 1)[1])
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", f"http://{target}/x")
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, b"ok")
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(f"CONNECT {target} HTTP/1.1\r\nhost: {target}\r\n\r\n".encode())
                reader = sock.makefile("rb")
                assert reader.readline().startswith(b"HTTP/1.1 200")
                while reader.readline() not in (b"\r\n", b""):
                    pass
                sock.sendall(f"GET /y HTTP/1.1\r\nhost: {target}\r\n\r\n".encode())
                assert reader.readline().startswith(b"HTTP/1.0 200")
            assert proxy.refused_since(0) == []
    finally:
        server.shutdown()
        server.server_close()
