"""`gankit studio [RUN]`: sliders, seeds and interpolations in a browser page."""

from __future__ import annotations

from pathlib import Path

import click

from .. import console
from ..errors import GankitError, UsageError


@click.command("studio")
@click.argument("run", required=False)
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
              help="The runs folder: its runs can be chosen in the page.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Only this machine can connect unless you give "
                   "another address (0.0.0.0: every network interface).")
@click.option("--port", type=int, default=0, show_default=True, help="Port; 0 picks a free one.")
@click.option("--no-browser", is_flag=True, help="Print the address but do not open a browser.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda[:N] or mps.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="A host name the page may be opened by besides the bound address and "
                   "localhost (repeatable), e.g. the machine's name with --host 0.0.0.0.")
def studio(run, out, host, port, no_browser, device, allow_hosts):
    """Open a run in a browser: a grid of seeds, shuffle, sliders for the run's
    directions and truncation, pinned seeds interpolating, new directions from marked
    samples, PNG/GIF downloads with the equivalent `gankit sample`/`interpolate` command;
    for a translation model (cyclegan) drop an image and see it A->B and back.

    RUN is a run folder, a folder of runs or a .safetensors checkpoint (default: the
    newest run under --out). Stop with Ctrl-C.

    \b
      gankit studio                          # the newest run under ./runs
      gankit studio runs/sushi64 --port 8765 --no-browser
    """
    import webbrowser

    from ..engine import pick_device
    from ..studio import open_studio
    from ..studio.server import is_loopback

    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: choose 0 (any free port) to 65535")
    if not host or any(ch.isspace() for ch in host):
        raise UsageError(f"--host {host!r}: give an address such as 127.0.0.1 or 0.0.0.0")
    for name in allow_hosts:
        if not name or len(name) > 253 or any(ch.isspace() or ch in "/@?#" for ch in name):
            raise UsageError(f"--allow-host {name!r}: give a host name such as myhost.local")
    dev = pick_device(device)
    try:
        server = open_studio(run, out, str(dev), host, port, allow_hosts)
    except OSError as exc:
        raise GankitError(f"--host {host} --port {port}: cannot listen there "
                          f"({exc.strerror or exc}); try another --port or --port 0") from None
    try:
        try:  # load the first run now: a broken one is reported before the page opens
            first = server.studio.info(None)
        except GankitError as exc:
            raise GankitError(f"{exc}") from None
        if not is_loopback(host):
            console.warn(f"--host {host}: the studio is open to other machines and has no "
                         "authentication; anyone who can reach this port can sample the runs "
                         "and save directions in them. Pages are served only to the host "
                         f"names {', '.join(sorted(server.allowed_hosts))} (add names with "
                         "--allow-host)")
        console.info(f"gankit studio: {first['id']} ({first['model']}, step {first['step']}) "
                     f"and the runs under {server.studio.catalog.root}; Ctrl-C stops it")
        click.echo(server.url)
        if not no_browser:
            webbrowser.open(server.url)
        try:
            server.serve_forever(poll_interval=0.5)
        except KeyboardInterrupt:
            console.info("studio stopped")
    finally:
        server.close()


COMMANDS = [studio]
