"""The explorer's web server: a Starlette app over :mod:`descend.explore.scenes`, run by uvicorn.

Routes: ``/`` (the page), ``/static/...`` (its script and style, served from this package:
nothing comes from the internet), ``GET /api/catalogue``, ``GET /api/scene/{name}`` and
``POST /api/run`` (JSON in, JSON out). Requests are parsed as plain JSON (never unpickled or
evaluated; NaN and Infinity are refused), at most ``MAX_BODY`` bytes, and checked by
:func:`descend.explore.scenes.run`; a bad one gets HTTP 4xx and ``{"error": "one sentence"}``.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path

from ..errors import DescendError, ParameterError
from . import scenes

__all__ = ["create_app", "serve", "Running", "MAX_BODY"]

STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
# The page loads only what this server serves; the browser enforces it.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _no_constants(token):
    raise ParameterError(f"the request body is not valid JSON: {token} is not a finite number.")


def create_app(allowed_hosts=LOCAL_HOSTS, concurrent_runs: int = 2):
    """The Starlette application. ``allowed_hosts``: the Host headers it answers (the loopback
    names by default, which also shuts out DNS-rebinding pages); ``("*",)`` for any. At most
    ``concurrent_runs`` requests compute at once; the others wait their turn."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    slots = threading.BoundedSemaphore(concurrent_runs)

    def compute(payload):
        with slots:
            t0 = time.perf_counter()
            return scenes.run(payload), time.perf_counter() - t0

    def error(status, message):
        return JSONResponse({"error": message}, status_code=status)

    def index(request):
        return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": CSP,
                                                              "Cache-Control": "no-cache"})

    def catalogue(request):
        return JSONResponse(scenes.catalogue())

    def scene(request):
        try:
            return JSONResponse(scenes.scene(request.path_params["name"]))
        except ParameterError as exc:
            return error(404, str(exc))

    async def run(request):
        if "application/json" not in request.headers.get("content-type", ""):
            return error(415, "send the request as JSON (Content-Type: application/json).")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return error(413, f"the request body is larger than {MAX_BODY} bytes.")
        try:
            payload = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
        except ParameterError as exc:
            return error(400, str(exc))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return error(400, f"the request body is not valid JSON: {exc}.")
        if not isinstance(payload, dict):
            return error(400, f"the request must be a JSON object; got {type(payload).__name__}.")
        from starlette.concurrency import run_in_threadpool

        try:
            result, seconds = await run_in_threadpool(compute, payload)
        except ParameterError as exc:
            return error(400, str(exc))
        return JSONResponse(result, headers={"Server-Timing": f"minimize;dur={1000 * seconds:.1f}"})

    async def http_error(request, exc):
        return error(exc.status_code, exc.detail if isinstance(exc.detail, str) else "request failed.")

    routes = [
        Route("/", index),
        Route("/api/catalogue", catalogue),
        Route("/api/scene/{name}", scene),
        Route("/api/run", run, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)),
                  Middleware(GZipMiddleware, minimum_size=1000)]
    return Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: http_error})


class Running:
    """A server running in a background thread (``serve(..., block=False)``): ``url``, ``stop()``;
    also a context manager."""

    def __init__(self, url, server, thread):
        self.url, self._server, self._thread = url, server, thread

    def stop(self, timeout: float = 10.0):
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"<descend explorer at {self.url}>"


def _listen(host, port):
    if not isinstance(host, str) or not host:
        raise ParameterError(f"host must be an address such as 127.0.0.1; got {host!r}.")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ParameterError(f"port must be an integer in [0, 65535] (0: a free port); got {port!r}.")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise DescendError(f"cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
    bound = sock.getsockname()[1]
    name = f"[{host}]" if family == socket.AF_INET6 else host
    return sock, f"http://{name}:{bound}/"


def serve(host: str = "127.0.0.1", port: int = 0, open_browser: bool = True, block: bool = True,
          quiet: bool = False):
    """Serve the explorer on ``host``:``port`` (127.0.0.1 and a free port by default).

    Prints the URL (unless ``quiet``) and opens it in a browser (unless ``open_browser`` is
    False). ``block=True`` serves until Ctrl-C; ``block=False`` serves from a background thread
    and returns a :class:`Running` handle (``.url``, ``.stop()``).
    """
    import uvicorn

    sock, url = _listen(host, port)
    local = host in LOCAL_HOSTS
    app = create_app(LOCAL_HOSTS if local else ("*",))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    if not quiet:
        print(f"descend explore: {url}", flush=True)
        if not local:
            print(f"warning: listening on {host}, not only this machine; anyone who can reach it can run "
                  f"optimizations here.", file=sys.stderr, flush=True)
    if open_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    if block:
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
        return None
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="descend-explore", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.01)
    if not server.started:
        raise DescendError(f"the explorer server at {url} did not start.")
    return Running(url, server, thread)
