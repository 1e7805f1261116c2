"""A TCP proxy in front of a real HTTP server that loses replies on purpose.

It reads each HTTP/1.1 request whole (Content-Length or chunked), forwards it on its own
upstream connection, reads the reply whole, and then does what a rule says for the Nth request
whose path contains a string:

- ``drop``:  the server did the work; the client's connection is closed without the reply
  (what a lost reply looks like to the client: RemoteDisconnected, "Connection aborted");
- ``reset``: the client's connection is reset (RST) before the request is forwarded, so the
  server never sees it;
- ``reset_after``: forwarded, then the client's connection is reset without the reply;
- ``delay``: the reply is held `seconds` before it is sent.

    with LossyProxy(upstream_url) as proxy:
        proxy.rule("/runs/create", "drop", nth=1)
        ... talk to proxy.url ...
        proxy.seen("/runs/create")   # how many such requests reached the proxy

Threads, loopback only; `close()` (or leaving the `with`) stops every thread within a second.
"""
from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

IO_TIMEOUT_S = 30.0


@dataclass
class Rule:
    path: str
    action: str          # drop | reset | reset_after | delay
    nth: int = 1         # the first matching request it applies to (1-based) ...
    times: int = 1       # ... and how many matching requests from there
    seconds: float = 0.0
    fired: int = 0


class Closed(Exception):
    pass


def _read_until(sock: socket.socket, buf: bytearray, marker: bytes) -> bytes:
    while marker not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise Closed()
        buf += chunk
    head, _, rest = bytes(buf).partition(marker)
    buf[:] = rest
    return head + marker


def _read_exact(sock: socket.socket, buf: bytearray, n: int) -> bytes:
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise Closed()
        buf += chunk
    out = bytes(buf[:n])
    del buf[:n]
    return out


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    out = {}
    for line in lines:
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip().lower()] = v.strip()
    return out


def _read_body(sock: socket.socket, buf: bytearray, headers: dict[str, str],
               until_close: bool) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        out = bytearray()
        while True:
            size_line = _read_until(sock, buf, b"\r\n")
            out += size_line
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                # trailers, then the empty line
                while True:
                    line = _read_until(sock, buf, b"\r\n")
                    out += line
                    if line == b"\r\n":
                        return bytes(out)
            out += _read_exact(sock, buf, size + 2)
    if "content-length" in headers:
        return _read_exact(sock, buf, int(headers["content-length"]))
    if until_close:
        out = bytearray(buf)
        buf.clear()
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return bytes(out)
            out += chunk
    return b""


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class LossyProxy:
    def __init__(self, upstream_url: str):
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules: list[Rule] = []
        self.log: list[tuple[str, str, str]] = []   # (method, path, what happened)
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._socks: set[socket.socket] = set()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="lossy-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rule(self, path: str, action: str, nth: int = 1, times: int = 1,
             seconds: float = 0.0) -> Rule:
        assert action in ("drop", "reset", "reset_after", "delay"), action
        r = Rule(path, action, nth, times, seconds)
        with self._lock:
            self.rules.append(r)
            # count matches from now on, so a rule's nth is about requests after it was set
            self._counts[path] = 0
        return r

    def seen(self, path: str) -> int:
        with self._lock:
            return sum(1 for _, p, _ in self.log if path in p)

    def fired(self) -> int:
        with self._lock:
            return sum(r.fired for r in self.rules)

    # ------------------------------------------------------------ internals

    def _decide(self, path: str) -> Rule | None:
        with self._lock:
            chosen = None
            for key in self._counts:
                if key in path:
                    self._counts[key] += 1
            for r in self.rules:
                if r.path in path:
                    n = self._counts[r.path]
                    if r.nth <= n < r.nth + r.times and chosen is None:
                        chosen = r
                        r.fired += 1
            return chosen

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(IO_TIMEOUT_S)
        upstream = None
        cbuf, ubuf = bytearray(), bytearray()
        with self._lock:
            self._socks.add(client)
        try:
            while not self._stop.is_set():
                try:
                    head = _read_until(client, cbuf, b"\r\n\r\n")
                except (Closed, OSError):
                    return
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                method, path = (request_line.split(" ") + ["", ""])[:2]
                headers = _headers(head)
                body = _read_body(client, cbuf, headers, until_close=False)
                rule = self._decide(path)
                if rule is not None and rule.action == "reset":
                    self._note(method, path, "reset")
                    _reset(client)
                    return
                if upstream is None:
                    upstream = socket.create_connection(self.upstream, timeout=IO_TIMEOUT_S)
                    with self._lock:
                        self._socks.add(upstream)
                upstream.sendall(head + body)
                rhead = _read_until(upstream, ubuf, b"\r\n\r\n")
                rheaders = _headers(rhead)
                status = rhead.split(b" ", 2)[1].decode() if b" " in rhead else "?"
                no_body = method == "HEAD" or status in ("204", "304")
                rbody = b"" if no_body else _read_body(
                    upstream, ubuf, rheaders,
                    until_close="close" in rheaders.get("connection", "").lower())
                if rule is not None and rule.action == "drop":
                    self._note(method, path, f"{status} dropped")
                    client.close()
                    return
                if rule is not None and rule.action == "reset_after":
                    self._note(method, path, f"{status} reset after")
                    _reset(client)
                    return
                if rule is not None and rule.action == "delay":
                    self._note(method, path, f"{status} delayed {rule.seconds}s")
                    if self._stop.wait(rule.seconds):
                        return
                else:
                    self._note(method, path, status)
                client.sendall(rhead + rbody)
                if "close" in rheaders.get("connection", "").lower():
                    return
        except (Closed, OSError):
            return
        finally:
            for s in (client, upstream):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass
                    with self._lock:
                        self._socks.discard(s)

    def _note(self, method: str, path: str, what: str) -> None:
        with self._lock:
            self.log.append((method, path, what))

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=2)

    def __enter__(self) -> "LossyProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
