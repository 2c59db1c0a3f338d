"""A client that stops reading mid-stream is disconnected after ``server.send_timeout``
(real processes: the emulator streams a long answer into a socket nobody reads)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.live import live_stack

# 11 MB of SSE: far more than the socket buffers between the gateway and the client hold.
COUNT, SIZE = 5000, 2000


def test_client_that_stops_reading_is_disconnected(tmp_path: Path) -> None:
    with live_stack(tmp_path, serve_args=["--set", "server.send_timeout=1"]) as stack:
        prompt = f"[[emu:paced count={COUNT} size={SIZE}]]"
        body = json.dumps(
            {
                "model": "claude-sonnet-4-5",
                "stream": True,
                "messages": [{"role": "user", "content": prompt}],
            }
        ).encode()
        url = urlsplit(stack.base_url)
        assert url.hostname is not None and url.port is not None
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect((url.hostname, url.port))
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"authorization: Bearer {stack.api_key}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        )
        client.sendall(head.encode() + body)
        client.settimeout(30)
        received = len(client.recv(4096))  # the answer has started (the emulator builds it first)
        time.sleep(3)  # then nothing is read: the gateway's writes block, and time out
        try:
            while chunk := client.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            pass
        finally:
            client.close()
    assert received < COUNT * SIZE // 2  # cut off: the whole answer is over 10 MB
