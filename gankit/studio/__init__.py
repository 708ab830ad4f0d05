"""`gankit studio`: the latent-space slider demo in a browser, served from this machine.

:mod:`.server` is the HTTP layer (the standard library's ThreadingHTTPServer) and
:mod:`.endpoints` its routes, :mod:`.app` the operations (made of :mod:`.grids`,
:mod:`.translate`, :mod:`.projections`, :mod:`.classes` and :mod:`.commands`),
:mod:`.worker` the single inference thread, :mod:`.validate` the request checks and
:mod:`.catalog` the runs a page may open.
The page itself is plain HTML, CSS and JavaScript in ``static/`` (no build step, no
CDN), with what it shares with the web export's pages in ``gankit/static/``. Importing
this package does not import torch.
"""

from __future__ import annotations

from pathlib import Path


def open_studio(target=None, runs_root: Path | str = "runs", device: str = "auto",
                host: str = "127.0.0.1", port: int = 0, allow_hosts=()):
    """A ready (not yet serving) studio server; call ``serve_forever()`` and ``close()``."""
    from .app import Studio
    from .catalog import Catalog
    from .server import make_server

    studio = Studio(Catalog(runs_root, target), device=device)
    try:
        return make_server(studio, host, port, allow_hosts)
    except BaseException:
        studio.close()
        raise


__all__ = ["open_studio"]
