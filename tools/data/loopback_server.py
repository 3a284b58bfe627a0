"""A loopback HTTP server with scripted failures, for the downloader's tests
and benchmark (never a real host: it binds 127.0.0.1 only).

Routes (``NAME`` is a file name; unknown names serve the default file):

=============================  ==============================================
``/ok/NAME``                   200, ``video/mp4``, the file's bytes
``/status/CODE/NAME``          CODE (e.g. 403, 404) with an HTML body
``/retry-after/N/S/NAME``      the first N requests: 429 + ``Retry-After: S``
``/flaky/N/NAME``              the first N requests: 500; then the file
``/stall/N/NAME``              the first N requests: headers and half the
                               body, then silence (until ``stall_seconds``
                               or shutdown); then the file
``/truncate/NAME``             ``Content-Length`` of the whole file, half of
                               it sent, connection closed
``/html/NAME``                 200, ``text/html``: an error page
``/fake/NAME``                 200, ``video/mp4``, but the body is HTML
``/redirect/NAME``             302 to ``/ok/NAME``
``/slow/MS/NAME``              the file after MS milliseconds
=============================  ==============================================

``/ok/NAME`` answers 404 while NAME is in ``server.gone`` (a dead link
that comes back). Bookkeeping (thread safe): ``server.hits[path]`` counts
requests per path, ``server.times[path]`` lists their arrival times
(``time.monotonic()``), ``server.max_inflight`` is the most requests that
were being answered at once.

    with LoopbackServer({'a.mp4': data}) as server:
        url = server.url('/ok/a.mp4')

``python tools/data/loopback_server.py FILE`` serves FILE as the default
until interrupted and prints its base URL (the benchmark runs it so, in a
process of its own).
"""
import argparse
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Optional

HTML = (b'<!DOCTYPE html><html><head><title>Error</title></head>'
        b'<body><h1>Access denied</h1></body></html>')


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'  # keep-alive, as real CDNs
    server: '_Server'

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        srv = self.server
        nth = srv.hit(self.path, +1)
        try:
            self._route(srv, nth)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            srv.hit(self.path, -1)

    def _route(self, srv: '_Server', nth: int) -> None:
        parts = self.path.strip('/').split('/')
        kind, args = parts[0], parts[1:]
        if kind == 'ok':
            if args[-1] in srv.gone:
                return self._send(404, HTML, 'text/html')
            return self._file(args[-1])
        if kind == 'status':
            return self._send(int(args[0]), HTML, 'text/html')
        if kind == 'retry-after':
            if nth <= int(args[0]):
                return self._send(429, HTML, 'text/html',
                                  {'Retry-After': args[1]})
            return self._file(args[-1])
        if kind == 'flaky':
            if nth <= int(args[0]):
                return self._send(500, HTML, 'text/html')
            return self._file(args[-1])
        if kind == 'stall':
            if nth <= int(args[0]):
                return self._partial(args[-1], stall=True)
            return self._file(args[-1])
        if kind == 'truncate':
            return self._partial(args[-1], stall=False)
        if kind == 'html':
            return self._send(200, HTML, 'text/html; charset=utf-8')
        if kind == 'fake':
            return self._send(200, HTML, 'video/mp4')
        if kind == 'redirect':
            return self._send(302, b'', 'text/plain',
                              {'Location': f'/ok/{args[-1]}'})
        if kind == 'slow':
            if srv.stop.wait(int(args[0]) / 1000.0):
                return None
            return self._file(args[-1])
        return self._send(404, HTML, 'text/html')

    def _file(self, name: str) -> None:
        body = self.server.body(name)
        if body is None:
            return self._send(404, HTML, 'text/html')
        self._send(200, body, 'video/mp4')

    def _send(self, code: int, body: bytes, ctype: str,
              headers: Optional[Dict[str, str]] = None) -> None:
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _partial(self, name: str, stall: bool) -> None:
        body = self.server.body(name) or b''
        self.send_response(200)
        self.send_header('Content-Type', 'video/mp4')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2])
        self.wfile.flush()
        if stall:
            self.server.stop.wait(self.server.stall_seconds)
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, files: Dict[str, bytes], default: Optional[bytes],
                 stall_seconds: float) -> None:
        super().__init__(('127.0.0.1', 0), _Handler)
        self.files, self.default = files, default
        self.stall_seconds = stall_seconds
        self.stop = threading.Event()
        self.gone: set = set()
        self.hits: Counter = Counter()
        self.times: Dict[str, list] = {}
        self.inflight = self.max_inflight = 0
        self._lock = threading.Lock()

    def hit(self, path: str, delta: int) -> int:
        """Count a request starting (+1) or ending (-1); returns how many
        requests for ``path`` arrived so far."""
        with self._lock:
            self.inflight += delta
            self.max_inflight = max(self.max_inflight, self.inflight)
            if delta > 0:
                self.hits[path] += 1
                self.times.setdefault(path, []).append(time.monotonic())
            return self.hits[path]

    def body(self, name: str) -> Optional[bytes]:
        return self.files.get(name, self.default)


class LoopbackServer:
    """Serve ``files`` on ``127.0.0.1`` from a background thread.

    Args:
        files: name -> bytes.
        default: bytes served for names not in ``files`` (None: 404).
        stall_seconds: how long a stalled response stays silent.
    """

    def __init__(self, files: Optional[Dict[str, bytes]] = None,
                 default: Optional[bytes] = None,
                 stall_seconds: float = 30.0) -> None:
        self._server = _Server(dict(files or {}), default, stall_seconds)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        daemon=True)

    @property
    def hits(self) -> Counter:
        return self._server.hits

    @property
    def times(self) -> Dict[str, list]:
        return self._server.times

    @property
    def gone(self) -> set:
        return self._server.gone

    @property
    def max_inflight(self) -> int:
        return self._server.max_inflight

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f'http://{host}:{port}'

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> 'LoopbackServer':
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.stop.set()  # wake stalled handlers
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> 'LoopbackServer':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('file', help='served for every name')
    p.add_argument('--seconds', type=float, default=3600,
                   help='stop after this long')
    args = p.parse_args(argv)
    with open(args.file, 'rb') as f:
        data = f.read()
    with LoopbackServer(default=data) as server:
        print(server.base, flush=True)
        try:
            time.sleep(args.seconds)
        except KeyboardInterrupt:
            pass


if __name__ == '__main__':
    sys.exit(main())
