"""``descend explore``: the explorer's command, registered on the CLI by descend.cli."""

from __future__ import annotations

import click


@click.command("explore")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (127.0.0.1: this machine only).")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one.")
@click.option("--no-browser", is_flag=True, help="Print the URL without opening a browser.")
def explore(host, port, no_browser):
    """The lecture and the test landscapes in the browser, run by descend (Ctrl-C stops)."""
    from . import serve

    try:
        serve(host=host, port=port, open_browser=not no_browser)
    except KeyboardInterrupt:  # Ctrl-C is how a server is stopped: not an error
        pass
    click.echo("descend explore: stopped.")
