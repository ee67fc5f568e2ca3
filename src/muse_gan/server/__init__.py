"""`muse serve`: a local HTTP server that keeps MIDI models loaded for DAW scripts, the web
page at ``/`` and anything that speaks HTTP.

    >>> from muse_gan.server import serve
    >>> serve(port=8765, models=["bach-rnn", "bach-vae"])      # until Ctrl-C or SIGTERM

The port is taken before anything heavy is imported, so a second server on the same port is
refused at once. The first model is loaded before the server answers (a model that cannot be
served is one line at start); the others load in the background, and a request for one of
them waits for its load. Ctrl-C and SIGTERM stop taking connections, finish the requests in
flight, then exit.
"""

from __future__ import annotations

import errno
import importlib
import ipaddress
import signal
import socket
import sys
import threading
from contextlib import contextmanager

from ..errors import MuseError
from .clips import Limits

DEFAULT_MODELS = ("bach-rnn", "bach-gan", "bach-vae")
DEFAULT_PORT = 8765


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    models: tuple[str, ...] = DEFAULT_MODELS,
    token: str | None = None,
    allow_remote: bool = False,
    limits: Limits = Limits(),
    quiet: bool = False,
) -> None:
    """Serve ``models`` on ``host``:``port`` until interrupted."""
    remote = not is_loopback(host)
    if remote and not allow_remote:
        raise MuseError(
            f"--host {host}: not a loopback address; other machines could use the server "
            f"(add --allow-remote to mean it, and --token to ask them for a secret)"
        )
    listening = bind(host, port)
    port = listening.getsockname()[1]
    # The web framework is imported beside torch: a cold start is mostly imports, and some of
    # their time (reading files, loading libraries) leaves the other core free.
    framework = threading.Thread(target=importlib.import_module, args=(f"{__name__}.app",))
    framework.start()
    catalog = prepare(list(models), limits)
    framework.join()
    from .app import create_app

    hosts = None if remote else loopback_hosts(port)
    app = create_app(catalog, token, hosts)
    if remote:
        print(
            f"muse serve: warning: listening on {host}, reachable from other machines; "
            f"{'they need the token' if token else 'anyone who can reach it may use it (no --token)'}",
            file=sys.stderr,
        )
    _say_address(host, port, token, catalog)
    try:
        _run(app, listening, limits, quiet)
    finally:
        catalog.close()
    print("muse serve: stopped", file=sys.stderr)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_hosts(port: int) -> set[str]:
    """The Host headers a browser or client on this machine sends for this server."""
    return {f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: any free port); one line when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
        listening.listen(128)
    except OSError as error:
        listening.close()
        if error.errno == errno.EADDRINUSE:
            raise MuseError(
                f"--port {port}: already in use on {host} (another muse serve? stop it, or "
                f"give --port N)"
            ) from None
        raise MuseError(f"--host {host} --port {port}: cannot listen ({error.strerror})") from None
    return listening


def prepare(names: list[str], limits: Limits):
    """The catalog of ``names``, each checked to be a MIDI model, the first one loaded."""
    import torch

    from ..assembly import read_config, resolve_model
    from ..core.adapter import Composes
    from ..modalities import ADAPTERS
    from .models import Catalog

    # One thread for all sampling: the library sets it per call and puts back what it found,
    # and calls on two models at once would otherwise put back each other's settings.
    torch.set_num_threads(1)
    if not names:
        raise MuseError("--models: give at least one model")
    for name in names:
        modality = read_config(resolve_model(name)).data.modality
        if not issubclass(ADAPTERS.get(modality), Composes):
            raise MuseError(
                f"--models {name}: a model of {modality}; muse serve serves MIDI models"
            )
    catalog = Catalog(names, limits)
    served = list(catalog.served.values())
    served[0].preload().result()
    for other in served[1:]:
        other.preload()
    return catalog


def _say_address(host: str, port: int, token: str | None, catalog) -> None:
    shown = f"[{host}]" if ":" in host else host
    page = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    print(
        f"muse serve: {page} serving {', '.join(catalog.served)} (Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )


def _run(app, listening: socket.socket, limits: Limits, quiet: bool) -> None:
    import logging

    import uvicorn

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=not quiet,
        timeout_graceful_shutdown=int(limits.seconds) + 5,  # the longest request, then some
    )
    if not quiet:  # one line per request, without uvicorn's start-up chatter
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    _server_class()(config).run(sockets=[listening])


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        @contextmanager
        def capture_signals(self):
            """Ctrl-C and SIGTERM start the graceful shutdown (a second Ctrl-C forces it).
            uvicorn's own version raises the signal again once shut down, which would end
            the process by the signal instead of returning: "stopped", status 0."""
            stops = (signal.SIGINT, signal.SIGTERM)
            previous = {stop: signal.signal(stop, self.handle_exit) for stop in stops}
            try:
                yield
            finally:
                for stop, handler in previous.items():
                    signal.signal(stop, handler)

    return Server
