"""Serving the platform in one process: prepare, start, listen, and shut down in order.

On SIGTERM or Ctrl-C, uvicorn stops accepting connections and lets in-flight
requests finish; then the core drains its inbox, every batch is already durable
in the journal, and a final snapshot is written before the process exits.
"""

import logging

import uvicorn
from rich.console import Console
from rich.markup import escape

from openbell.app import Platform, prepare, start_platform
from openbell.demo import seed_demo
from openbell.platform.data_dir import DataDirError
from openbell.platform.settings import Settings
from openbell.platform.web.server import ServerLimits, fit_descriptor_limit, limited_protocol

__all__ = ["prepare", "serve"]

logger = logging.getLogger("openbell")


async def serve(settings: Settings, *, demo: bool, console: Console) -> int:
    """Run until signalled; return the process exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        platform = await start_platform(settings)
    except DataDirError as error:
        console.print(f"[red]Refusing to start:[/red] {escape(str(error))}")
        return 2
    try:
        if demo:
            credentials = await seed_demo(platform.core, platform.identity, settings.data_dir)
            console.print(f"Demo traders' credentials: [bold]{credentials.resolve()}[/bold]")
        _announce(settings, platform, console)
        server = uvicorn.Server(_config(settings, platform))
        await server.serve()
        if not server.started:
            console.print(f"[red]Could not listen on {settings.host}:{settings.port}[/red]")
            return 1
    finally:
        console.print("Shutting down: draining the core and writing a snapshot...")
        await platform.stop()
        console.print(f"Stopped at sequence {platform.core.sequencer.committed_sequence}.")
    return 0


def _config(settings: Settings, platform: Platform) -> uvicorn.Config:
    limits = fit_descriptor_limit(ServerLimits.from_settings(settings))
    return uvicorn.Config(
        platform.app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=limited_protocol(limits),  # httptools, with limits on what clients may send
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
        ws="none",  # no WebSocket route yet: an upgrade request is served as plain HTTP
        lifespan="off",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        log_level="info",
    )


def _announce(settings: Settings, platform: Platform, console: Console) -> None:
    base = f"http://{settings.host}:{settings.port}"
    database = "PostgreSQL" if settings.database_url else f"SQLite in {settings.data_dir.resolve()}"
    console.print(f"openbell listening on [bold]{base}[/bold] ({database})")
    console.print(f"API docs: {base}/docs   OpenAPI: {base}/openapi.json")
    recovery = platform.core.recovery
    console.print(
        f"Core at sequence {platform.core.sequencer.committed_sequence} "
        f"(snapshot {recovery.snapshot_sequence}, replayed {recovery.replayed} commands)"
    )
