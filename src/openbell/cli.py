"""The `openbell` command: start the platform, verify the ledger, run benchmarks, manage clients."""

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import uvloop
from rich.console import Console
from rich.table import Table

from openbell.platform.settings import Settings

app = typer.Typer(
    name="openbell",
    help="openbell: a trading platform that stays fast, correct and secure when load surges.",
    no_args_is_help=True,
    add_completion=False,
)
ledger_app = typer.Typer(help="Check the ledger.", no_args_is_help=True)
bench_app = typer.Typer(help="Measure throughput and latency.", no_args_is_help=True)
clients_app = typer.Typer(help="Manage API clients.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(bench_app, name="bench")
app.add_typer(clients_app, name="clients")

console = Console(stderr=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the embedded database and keys live.")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="postgresql+asyncpg://... (default: SQLite in data dir)."),
]


def _settings(
    data_dir: Path | None = None, database_url: str | None = None, **extra: object
) -> Settings:
    overrides: dict[str, Any] = {key: value for key, value in extra.items() if value is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    try:
        return Settings(**overrides)
    except ValueError as error:
        console.print(f"[red]Invalid settings:[/red] {error}")
        raise typer.Exit(2) from None


@app.command()
def up(
    demo: Annotated[
        bool, typer.Option("--demo", help="Seed instruments and two funded traders.")
    ] = False,
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the whole platform in one process, on SQLite unless OPENBELL_DATABASE_URL is set."""
    from openbell.runner import serve  # noqa: PLC0415  # keeps `openbell --help` fast

    settings = _settings(data_dir, host=host, port=port)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    interrupted: list[int] = []

    def remember(signum: int, _frame: object) -> None:
        # uvicorn re-raises the signal that stopped it; remembering it here lets the
        # core drain and snapshot before the process exits. A second Ctrl-C forces exit.
        if interrupted and signum == signal.SIGINT:
            os._exit(130)
        interrupted.append(signum)

    signal.signal(signal.SIGTERM, remember)
    signal.signal(signal.SIGINT, remember)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        code = runner.run(serve(settings, demo=demo, console=console))
    raise typer.Exit(code)


@ledger_app.command("verify")
def ledger_verify(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Rebuild the core's state from snapshot and journal and check every ledger invariant."""
    from openbell.core.bootstrap import verify_ledger  # noqa: PLC0415

    settings = _settings(data_dir, database_url)
    url = settings.resolved_database_url
    if settings.database_url is None and not (settings.data_dir / "openbell.db").exists():
        console.print(f"[red]No database in {settings.data_dir}[/red]")
        raise typer.Exit(2)
    report = asyncio.run(verify_ledger(url))
    table = Table(title=f"Ledger at sequence {report.sequence}")
    table.add_column("asset")
    table.add_column("sum of balances", justify="right")
    for asset, total in report.totals.items():
        table.add_row(asset, str(total))
    Console().print(table)
    Console().print(f"{report.accounts} accounts, {report.open_orders} open orders")
    if report.ok:
        Console().print(
            "[green]OK[/green]: every asset sums to zero, no negative balance, "
            "holds match open orders"
        )
        return
    for problem in report.problems:
        console.print(f"[red]BROKEN[/red] {problem}")
    raise typer.Exit(1)


@bench_app.command("engine")
def bench_engine(
    commands: Annotated[int, typer.Option(help="Commands to generate.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 1,
    workload: Annotated[Path | None, typer.Option(help="JSON Lines workload to replay.")] = None,
    journal: Annotated[
        str | None, typer.Option(help="Also run journaled: sqlite or postgres.")
    ] = None,
    database_url: DatabaseUrl = None,
    compare: Annotated[bool, typer.Option(help="Also run the rival engines.")] = True,
    save: Annotated[
        Path | None, typer.Option(help="Write the generated stream as JSON Lines.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Time the core state machine on exchange-core's order-flow mix or a workload file."""
    from openbell.bench.engine import run_engine_bench  # noqa: PLC0415
    from openbell.bench.workload import WorkloadError  # noqa: PLC0415

    if journal not in (None, "sqlite", "postgres"):
        console.print("[red]--journal must be sqlite or postgres[/red]")
        raise typer.Exit(2)
    if journal == "postgres" and not database_url:
        database_url = os.environ.get("OPENBELL_DATABASE_URL")
        if not database_url:
            console.print(
                "[red]--journal postgres needs --database-url or OPENBELL_DATABASE_URL[/red]"
            )
            raise typer.Exit(2)
    try:
        result = run_engine_bench(
            commands=commands,
            seed=seed,
            workload=workload,
            journal=journal,
            database_url=database_url,
            compare=compare,
            save=save,
        )
    except WorkloadError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    _emit(result, as_json=as_json)


@bench_app.command("api")
def bench_api(
    url: Annotated[str | None, typer.Option(help="A running server; default: start one.")] = None,
    clients: Annotated[int, typer.Option(help="Concurrent clients.")] = 64,
    seconds: Annotated[float, typer.Option(help="Duration of each phase.")] = 10.0,
    credentials: Annotated[
        Path | None, typer.Option(help="demo-clients.json of the server.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the order mix.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Drive order entry over HTTP and compare it with the same server's /livez."""
    from openbell.bench.api import BenchSetupError, run_api_bench  # noqa: PLC0415
    from openbell.bench.http_load import MissingDependencyError  # noqa: PLC0415

    try:
        result = run_api_bench(
            url=url, clients=clients, seconds=seconds, credentials=credentials, seed=seed
        )
    except (BenchSetupError, MissingDependencyError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    _emit(result, as_json=as_json)


def _emit(result: dict[str, Any], *, as_json: bool) -> None:
    text = json.dumps(result, indent=2, sort_keys=False)
    if as_json:
        sys.stdout.write(text + "\n")
    else:
        Console().print_json(text)


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="A name to recognise the client by.")],
    account: Annotated[int | None, typer.Option(help="Trading account it acts for.")] = None,
    scopes: Annotated[str, typer.Option(help="Space-separated scopes.")] = "read trade",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API client and print its secret, once."""
    from openbell.identity.bootstrap import create_api_client  # noqa: PLC0415
    from openbell.runner import prepare  # noqa: PLC0415

    settings = _settings(data_dir, database_url)
    asyncio.run(prepare(settings))
    issued = asyncio.run(
        create_api_client(settings, name=name, scopes=scopes.split(), account_id=account)
    )
    sys.stdout.write(
        json.dumps({"client_id": issued.client.client_id, "client_secret": issued.client_secret})
        + "\n"
    )
    console.print("[yellow]Store the secret now: it is shown only once.[/yellow]")


@clients_app.command("list")
def clients_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List API clients (never their secrets)."""
    from openbell.identity.bootstrap import list_api_clients  # noqa: PLC0415

    settings = _settings(data_dir, database_url)
    table = Table("client_id", "name", "account", "scopes", "revoked")
    for client in asyncio.run(list_api_clients(settings)):
        table.add_row(
            client.client_id,
            client.name,
            str(client.account_id or ""),
            " ".join(sorted(client.scopes)),
            "yes" if client.revoked_at else "",
        )
    Console().print(table)


@clients_app.command("revoke")
def clients_revoke(
    client_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Revoke an API client: it gets no new tokens."""
    from openbell.identity.bootstrap import revoke_api_client  # noqa: PLC0415
    from openbell.shared.errors import NotFoundError  # noqa: PLC0415

    settings = _settings(data_dir, database_url)
    try:
        asyncio.run(revoke_api_client(settings, client_id))
    except NotFoundError:
        console.print("[red]No such client[/red]")
        raise typer.Exit(1) from None
    console.print(f"revoked {client_id}")


if __name__ == "__main__":  # pragma: no cover
    app()
