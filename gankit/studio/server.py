"""The studio's HTTP layer: the standard library's ThreadingHTTPServer.

Routes (see docs/studio.md for parameters and answers)::

    GET  /                     the page
    GET  /static/NAME          its scripts, style sheet and icon (a fixed list)
    GET  /api/runs             runs to choose from
    GET  /api/run              one run: model, step, directions and their ranges
    GET  /api/samples          a grid of samples as PNG data URLs, with the command line
    GET  /api/walk             an interpolation, streamed as NDJSON, one frame a line
    GET  /api/export.png       the current grid or image as a PNG download
    GET  /api/export.gif       the current animation as a GIF download
    POST /api/directions       fit and save a direction from positive/negative seeds
    POST /api/translate        an uploaded image A->B and back (translation runs)
    POST /api/project          an uploaded picture projected into the latent space (a tile)

Every error is a JSON ``{"error": message}`` with a 4xx status (5xx only for the
studio's own failures), never a traceback. Requests must name an allowed host in
their Host header, whatever address the studio is bound to (DNS rebinding): the bound
address, ``localhost``, the loopback addresses and the names given with
``--allow-host``. POSTs whose Origin is not one of those hosts are refused. The studio
has no authentication: bound beyond loopback, anyone who can reach the port can use it.

This module is the plumbing (hosts, headers, dispatch, errors, static files); the
endpoints' parameter checks are in :mod:`.endpoints`.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from .. import console
from ..errors import GankitError, UsageError
from . import validate as v
from .endpoints import Q_IMAGES, Q_RUN, Q_WALK, Endpoints  # noqa: F401 (Q_*: re-exported)
from .validate import BadRequest

STATIC_RE = re.compile(r"^[a-z0-9][a-z0-9-]*\.(html|js|css|svg|png)$")
CONTENT_TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
                 "css": "text/css; charset=utf-8", "svg": "image/svg+xml", "png": "image/png"}
CSP = ("default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; style-src 'self'; "
       "script-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
MAX_QUERY_FIELDS = 30


def static_files() -> dict[str, bytes]:
    """The page's files, read once from the package: its own (gankit/studio/static) and
    those it shares with the exported pages (gankit/static: the common script, the style
    sheet, the icon), all under /static/."""
    out: dict[str, bytes] = {}
    for root in (resources.files("gankit").joinpath("static"),
                 resources.files("gankit.studio").joinpath("static")):
        for p in root.iterdir():
            if STATIC_RE.match(p.name):
                if p.name in out:  # one home per file: a shadowed copy would go unnoticed
                    raise RuntimeError(f"static file {p.name} is in two folders")
                out[p.name] = p.read_bytes()
    return out


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class StudioServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, studio, host: str = "127.0.0.1", port: int = 0, allow_hosts=()):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.studio = studio
        self.static = static_files()
        super().__init__((host, port), Handler)
        self.host = host
        self.port = self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        # always an allow-list (DNS rebinding): never the Host header a request brings
        names = {"127.0.0.1", "localhost", "[::1]", shown}
        names |= {f"[{h}]" if ":" in h and not h.startswith("[") else h
                  for h in (str(a).strip().lower() for a in allow_hosts) if h}
        if host in ("0.0.0.0", "::"):
            names.discard(shown)  # "any address" is not a name a browser sends
        self.allowed_hosts = {f"{n.lower()}:{self.port}" for n in names}
        if self.port == 80:
            self.allowed_hosts |= {n.lower() for n in names}
        if host in ("0.0.0.0", "::"):
            shown = "127.0.0.1"
        self.url = f"http://{shown}:{self.port}/"

    def path_roots(self) -> list:
        """Folders whose absolute prefix error messages leave out (the runs folder's parent,
        the given run's)."""
        from pathlib import Path

        cat = self.studio.catalog
        out = []
        for p in (cat.root, cat.given.run_dir if cat.given else None,
                  cat.given.checkpoint if cat.given else None):
            if p is not None:
                try:
                    out.append(Path(p).resolve().parent)
                except OSError:
                    pass
        return out

    def close(self):
        self.shutdown_request_threads = True
        self.server_close()
        self.studio.close()


class Handler(Endpoints, BaseHTTPRequestHandler):
    server_version = "gankit-studio"
    protocol_version = "HTTP/1.0"
    timeout = 60  # seconds of silence before a connection is dropped

    # -- plumbing ---------------------------------------------------------------------------
    def log_message(self, fmt, *args):
        if console.is_debug():
            sys.stderr.write("studio: " + (fmt % args) + "\n")

    def _headers(self, status: int, ctype: str, length: int | None = None, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        if ctype.startswith("text/html"):
            self.send_header("Content-Security-Policy", CSP)
        for k, val in (extra or {}).items():
            self.send_header(k, val)
        self.end_headers()

    def _send(self, status: int, body: bytes, ctype: str, extra=None):
        self._headers(status, ctype, len(body), extra)
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status: int = 200):
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json")

    def send_error(self, code, message=None, explain=None):
        """http.server's own errors (bad request line, unknown method) as JSON too; an
        unknown method is a 405 (the client's mistake), not http.server's 501."""
        if code == 501:
            code, message = 405, f"{self.command} is not allowed here"
        try:
            self.close_connection = True
            self._json({"error": message or self.responses.get(code, ("error",))[0]}, code)
        except OSError:
            pass

    def _query(self, url, allowed: set[str]) -> dict:
        try:
            q = parse_qs(url.query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
        except ValueError:
            raise BadRequest(f"too many query parameters (at most {MAX_QUERY_FIELDS})") from None
        unknown = sorted(set(q) - allowed)
        if unknown:
            raise BadRequest(f"unknown parameter '{unknown[0][:40]}' (this endpoint takes: "
                             f"{', '.join(sorted(allowed)) or 'none'})")
        return q

    def _check_host(self):
        allowed = self.server.allowed_hosts
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in allowed:
            raise BadRequest(f"Host {host[:80]!r} is not this studio's address; open "
                             f"{self.server.url}", 403)

    def _check_origin(self):
        origin = self.headers.get("Origin")
        if origin is None:
            return
        if origin.strip().lower() not in {f"http://{h}" for h in self.server.allowed_hosts}:
            raise BadRequest("cross-origin requests are refused", 403)

    # -- dispatch ----------------------------------------------------------------------------
    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method: str):
        try:
            self._check_host()
            url = urlsplit(self.path)
            path = url.path
            if path in ("/", "/index.html") or path.startswith("/static/"):
                if method not in ("GET", "HEAD"):
                    raise BadRequest(f"{method} is not allowed here", 405)
                page = not path.startswith("/static/")
                self._query(url, {"run"} if page else set())  # /?run=ID opens that run
                return self._static("index.html" if page else path[len("/static/"):])
            route = ROUTES.get(path)
            if route is None:
                raise BadRequest(f"no such page or endpoint: {path[:100]}", 404)
            want, fn = route
            if method != want:
                raise BadRequest(f"{path} takes {want} requests, not {method}", 405)
            if method == "POST":
                self._check_origin()
            fn(self, url)
        except BadRequest as exc:
            self._error(exc.status, str(exc))
        except UsageError as exc:
            self._error(400, str(exc))
        except GankitError as exc:
            self._error(422, str(exc))
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - one JSON line; the traceback only in --debug
            if console.is_debug():
                traceback.print_exc()
            first = (str(exc).splitlines() or [""])[0][:200]
            self._error(500, f"internal error ({type(exc).__name__}: {first})")

    def _error(self, status: int, message: str):
        try:
            self._json({"error": scrub_paths(message, self.server.path_roots())}, status)
        except OSError:
            self.close_connection = True

    def _static(self, name: str):
        body = self.server.static.get(name) if STATIC_RE.match(name) else None
        if body is None:
            raise BadRequest(f"no such file: /static/{name[:80]}", 404)
        self._send(200, body, CONTENT_TYPES[name.rsplit(".", 1)[1]])

    def _body(self, limit: int, what: str) -> bytes:
        n = v.content_length(self.headers, limit, what)
        data = self.rfile.read(n)
        if len(data) != n:
            raise BadRequest(f"{what}: the body ended early ({len(data)} of {n} bytes)")
        return data


ROUTES = {
    "/api/runs": ("GET", Handler.api_runs),
    "/api/run": ("GET", Handler.api_run),
    "/api/samples": ("GET", Handler.api_samples),
    "/api/walk": ("GET", Handler.api_walk),
    "/api/export.png": ("GET", Handler.api_export_png),
    "/api/export.gif": ("GET", Handler.api_export_gif),
    "/api/directions": ("POST", Handler.api_directions),
    "/api/translate": ("POST", Handler.api_translate),
    "/api/project": ("POST", Handler.api_project),
}


def make_server(studio, host: str = "127.0.0.1", port: int = 0, allow_hosts=()) -> StudioServer:
    return StudioServer(studio, host, port, allow_hosts)


ABS_PATH_RE = re.compile(r"(?<![\w.~])/(?:[^\s/:'\"]+/)+(?=[^\s/:'\"]+/[^\s/:'\"]+/[^\s/:'\"]+)")


def scrub_paths(message: str, roots=()) -> str:
    """An error message without this machine's absolute paths: the runs folder's parent
    and the working folder are dropped, the home folder shown as ~, and any other
    absolute path cut to its last three parts."""
    import os

    prefixes = [(str(r).rstrip(os.sep) + os.sep, "") for r in roots if str(r) not in ("", os.sep)]
    prefixes += [(os.getcwd().rstrip(os.sep) + os.sep, ""),
                 (os.path.expanduser("~").rstrip(os.sep) + os.sep, "~" + os.sep)]
    for prefix, short in sorted(prefixes, key=lambda p: -len(p[0])):
        if len(prefix) > 1:
            message = message.replace(prefix, short)
    return ABS_PATH_RE.sub("", message)
