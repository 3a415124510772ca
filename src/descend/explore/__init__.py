"""See it move: the lecture and the test landscapes in the browser, driven by the library.

    import descend as ds
    ds.explore.serve()                      # http://127.0.0.1:<free port>/, opens a browser
    srv = ds.explore.serve(port=8000, open_browser=False, block=False); srv.url; srv.stop()

or ``descend explore [--host 127.0.0.1] [--port P] [--no-browser]``. The page is served whole by
this package (no CDN). Every trajectory, loss and verdict it draws is computed by
:func:`descend.minimize` on the server (:mod:`descend.explore.scenes`); the page only draws.
Starlette and uvicorn are imported when a server starts, never by ``import descend``.
"""

from __future__ import annotations

__all__ = ["serve", "create_app", "catalogue", "scene", "run", "SCENES", "MAX_STEPS", "MAX_RUNS"]

from .scenes import MAX_RUNS, MAX_STEPS, SCENES, catalogue, run, scene


def serve(host: str = "127.0.0.1", port: int = 0, open_browser: bool = True, block: bool = True,
          quiet: bool = False):
    """Serve the explorer; see :func:`descend.explore.server.serve`."""
    from .server import serve as _serve

    return _serve(host=host, port=port, open_browser=open_browser, block=block, quiet=quiet)


def create_app(allowed_hosts=("127.0.0.1", "localhost", "::1", "[::1]")):
    """The Starlette application (for tests and for mounting elsewhere)."""
    from .server import create_app as _create_app

    return _create_app(allowed_hosts)
