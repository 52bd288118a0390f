"""The `openbell` command: start the platform, verify the ledger, run benchmarks, manage clients."""

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
import uvloop
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from openbell.platform.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from openbell.identity.bootstrap import Identity

T = TypeVar("T")

app = typer.Typer(
    name="openbell",
    help="openbell: a trading platform that stays fast, correct and secure when load surges.",
    no_args_is_help=True,
    add_completion=False,
)
ledger_app = typer.Typer(help="Check the ledger.", no_args_is_help=True)
bench_app = typer.Typer(help="Measure throughput and latency.", no_args_is_help=True)
clients_app = typer.Typer(help="Manage API clients.", no_args_is_help=True)
users_app = typer.Typer(help="Manage users (traders, operators, auditors).", no_args_is_help=True)
keys_app = typer.Typer(help="Manage token signing keys.", no_args_is_help=True)
journal_app = typer.Typer(help="Check the command journal.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(journal_app, name="journal")
app.add_typer(bench_app, name="bench")
app.add_typer(clients_app, name="clients")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")

console = Console(stderr=True, soft_wrap=True)

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


def _with_identity(settings: Settings, action: "Callable[[Identity], Awaitable[T]]") -> T:
    """Run one identity command against the database, opened and closed around it."""
    from openbell.identity.bootstrap import open_identity  # noqa: PLC0415  # keeps --help fast

    async def run() -> T:
        async with open_identity(settings) as identity:
            return await action(identity)

    return asyncio.run(run())


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
    from openbell.runner import EXIT_GRACE_SECONDS, exit_within, serve  # noqa: PLC0415

    settings = _settings(data_dir, host=host, port=port)
    if "OPENBELL_ISSUER" not in os.environ:
        # Tokens' issuer and the login page's origin check must name where we listen.
        settings = settings.model_copy(update={"issuer": f"http://{settings.host}:{settings.port}"})
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        try:
            code = runner.run(serve(settings, demo=demo, console=console))
        except Exception:
            exit_within(EXIT_GRACE_SECONDS, 1)  # a failure unforeseen ends the process too
            raise
        if code != 0:  # a refused start ends now, even if something it opened lingers
            exit_within(EXIT_GRACE_SECONDS, code)
    raise typer.Exit(code)


@app.command()
def recover(
    rebuild_read_model: Annotated[
        bool,
        typer.Option(
            "--rebuild-read-model",
            help="Empty the trading read model and rebuild it from the journal, from sequence 1.",
        ),
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Repair what start-up refused, trusting the journal (docs/recovery.md). Stop the server
    first: this takes the journal's writer lock."""
    from openbell.core.application.errors import JournalLockedError  # noqa: PLC0415
    from openbell.rebuild import rebuild_read_model as rebuild  # noqa: PLC0415

    if not rebuild_read_model:
        console.print("[red]Say what to recover:[/red] --rebuild-read-model")
        raise typer.Exit(2)
    settings = _settings(data_dir, database_url)
    try:
        rebuilt = asyncio.run(rebuild(settings))
    except JournalLockedError:
        console.print("[red]A server holds the journal:[/red] stop it, then rebuild")
        raise typer.Exit(4) from None
    before, after = rebuilt.before, rebuilt.after
    sys.stdout.write(
        f"The trading read model was at sequence {before.checkpoint} (order ids up to "
        f"{before.highest_order_id}, trade ids up to {before.highest_trade_id}); rebuilt from "
        f"the journal, which ends at {rebuilt.journal_end}, it is at sequence "
        f"{after.checkpoint} (order ids up to {after.highest_order_id}, trade ids up to "
        f"{after.highest_trade_id}).\n"
    )


@ledger_app.command("verify")
def ledger_verify(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    deep: Annotated[
        bool, typer.Option("--deep", help="Also verify every journal record (journal verify).")
    ] = False,
) -> None:
    """Rebuild the core's state from snapshot and journal and check every ledger invariant."""
    from openbell.core.application.errors import JournalError  # noqa: PLC0415
    from openbell.core.bootstrap import verify_ledger  # noqa: PLC0415

    settings = _settings(data_dir, database_url)
    url = _existing_database(settings)
    journal_sound = _verify_journal(settings, as_json=False) if deep else True
    try:
        report = asyncio.run(verify_ledger(url))
    except JournalError as error:
        console.print(f"[red]BROKEN[/red] the ledger cannot be rebuilt: {escape(str(error))}")
        raise typer.Exit(1) from None
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
    for problem in report.problems:
        console.print(f"[red]BROKEN[/red] {problem}")
    if not (report.ok and journal_sound):
        raise typer.Exit(1)


@journal_app.command("verify")
def journal_verify(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Read the whole journal from sequence 1: every checksum, every record decoded, no gap.

    Read-only, beside a running server too. Exit 0 when sound, 1 when damaged, 2 when
    there is no database.
    """
    settings = _settings(data_dir, database_url)
    _existing_database(settings)
    if not _verify_journal(settings, as_json=as_json):
        raise typer.Exit(1)


def _existing_database(settings: Settings) -> str:
    if settings.database_url is None and not (settings.data_dir / "openbell.db").exists():
        console.print(f"[red]No database in {settings.data_dir}[/red]")
        raise typer.Exit(2)
    return settings.resolved_database_url


def _verify_journal(settings: Settings, *, as_json: bool) -> bool:
    """Print what `journal verify` found; True when the journal is sound."""
    from openbell.core.application.errors import JournalError  # noqa: PLC0415
    from openbell.core.bootstrap import acknowledged_path, verify_journal_at  # noqa: PLC0415

    url = settings.resolved_database_url
    try:
        report = asyncio.run(verify_journal_at(url, acknowledged_path(settings.data_dir, url)))
    except JournalError as error:
        console.print(f"[red]Cannot read the journal:[/red] {escape(str(error))}")
        raise typer.Exit(2) from None
    summary = {
        "ok": report.ok,
        "records": report.records,
        "entries": report.entries,
        "last_sequence": report.last_sequence,
        "acknowledged_sequence": report.acknowledged.sequence if report.acknowledged else None,
        "problems": report.problems,
    }
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return report.ok
    out = Console()
    out.print(
        f"Journal: {report.records} records, {report.entries} entries, "
        f"last sequence {report.last_sequence}"
        + (f", acknowledged {summary['acknowledged_sequence']}" if report.acknowledged else ""),
        markup=False,
    )
    for problem in report.problems:
        console.print(f"[red]DAMAGED[/red] {escape(problem)}")
    if report.ok:
        out.print("[green]OK[/green]: every record's checksum, decoding and sequence check out")
    return report.ok


@bench_app.command("engine")
def bench_engine(
    commands: Annotated[int, typer.Option(help="Commands to generate.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 1,
    workload: Annotated[Path | None, typer.Option(help="JSON Lines workload to replay.")] = None,
    journal: Annotated[
        str | None, typer.Option(help="Also run journaled: sqlite or postgres.")
    ] = None,
    database_url: DatabaseUrl = None,
    save: Annotated[
        Path | None, typer.Option(help="Write the generated stream as JSON Lines.")
    ] = None,
    repeat: Annotated[
        int, typer.Option(help="Alternating rounds of openbell and the reference book.")
    ] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    # Hidden: scripts written when the rivals ran here by default pass --no-compare.
    compare: Annotated[bool, typer.Option(hidden=True)] = False,
) -> None:
    """Time the core state machine on exchange-core's order-flow mix or a workload file.

    openbell is compared with a bare heap+deque book. The rival Python engines are
    compared from a source checkout with the bench extra installed, by
    python -m benchmarks.engines (docs/benchmarks.md).
    """
    from openbell.bench.engine import (  # noqa: PLC0415
        RIVALS_HINT,
        UsageError,
        resolve_journal,
        run_engine_bench,
    )
    from openbell.bench.workload import WorkloadError  # noqa: PLC0415

    if compare:
        console.print(RIVALS_HINT, markup=False, highlight=False)
        raise typer.Exit(2)
    try:
        database_url = resolve_journal(journal, database_url)
        result = run_engine_bench(
            commands=commands,
            seed=seed,
            workload=workload,
            journal=journal,
            database_url=database_url,
            save=save,
            repeat=repeat,
        )
    except (UsageError, WorkloadError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    _emit(result, as_json=as_json)
    console.print(RIVALS_HINT, markup=False, highlight=False)


@bench_app.command("instructions")
def bench_instructions(
    commands: Annotated[int, typer.Option(help="Commands to generate.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Count, under valgrind, the instructions openbell and the bare book spend per command.

    Unlike seconds, counted instructions do not move with the load of a shared machine.
    """
    from openbell.bench.instructions import (  # noqa: PLC0415
        ValgrindMissingError,
        run_instruction_bench,
    )

    try:
        result = run_instruction_bench(commands=commands, seed=seed)
    except (ValgrindMissingError, ValueError) as error:
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


@bench_app.command("auth")
def bench_auth(
    seconds: Annotated[float, typer.Option(help="Duration of each timed phase.")] = 3.0,
    workers: Annotated[int, typer.Option(help="Concurrent callers in each phase.")] = 64,
    users: Annotated[int, typer.Option(help="Users signing in during the surge.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Login surge, token issuance and verification rates, and argon2 cost per login.

    Uses the argon2 parameters of the settings (OPENBELL_ARGON2_*), production's by default.
    """
    from openbell.bench.auth import run_auth_bench  # noqa: PLC0415

    try:
        result = run_auth_bench(seconds=seconds, workers=workers, users=users)
    except ValueError as error:
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
    redirect_uri: Annotated[
        list[str] | None,
        typer.Option(
            "--redirect-uri",
            help="Makes an authorization code client (a console) with this exact redirect "
            "URI; repeat for more.",
        ),
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="No secret: a browser app that proves itself by PKCE.")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API client and print its secret, once."""
    from openbell.identity.domain.errors import InvalidClientDefinitionError  # noqa: PLC0415
    from openbell.runner import prepare  # noqa: PLC0415

    settings = _settings(data_dir, database_url)
    asyncio.run(prepare(settings))
    grant_types = (
        ["authorization_code", "refresh_token"] if redirect_uri else ["client_credentials"]
    )
    try:
        issued = _with_identity(
            settings,
            lambda identity: identity.clients.create_client(
                name=name,
                scopes=scopes.split(),
                account_id=account,
                grant_types=grant_types,
                redirect_uris=redirect_uri or (),
                public=public,
            ),
        )
    except InvalidClientDefinitionError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    sys.stdout.write(
        json.dumps({"client_id": issued.client.client_id, "client_secret": issued.client_secret})
        + "\n"
    )
    if issued.client_secret:
        console.print("[yellow]Store the secret now: it is shown only once.[/yellow]")


@clients_app.command("list")
def clients_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List API clients (never their secrets)."""
    settings = _settings(data_dir, database_url)
    table = Table("client_id", "name", "account", "scopes", "revoked")
    for client in _with_identity(settings, lambda identity: identity.clients.list_clients()):
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
    from openbell.shared.errors import NotFoundError  # noqa: PLC0415

    settings = _settings(data_dir, database_url)
    try:
        _with_identity(settings, lambda identity: identity.clients.revoke_client(client_id))
    except NotFoundError:
        console.print("[red]No such client[/red]")
        raise typer.Exit(1) from None
    console.print(f"revoked {client_id}; its tokens are refused within a second")


@clients_app.command("rotate")
def clients_rotate(
    client_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Give a client a new secret, printed once; the old one works for the overlap
    (OPENBELL_CLIENT_SECRET_OVERLAP_SECONDS, a day by default), so deployments can roll."""
    from openbell.shared.errors import NotFoundError  # noqa: PLC0415

    settings = _settings(data_dir, database_url)
    try:
        issued = _with_identity(
            settings, lambda identity: identity.clients.rotate_secret(client_id)
        )
    except NotFoundError:
        console.print("[red]No such active client with a secret[/red]")
        raise typer.Exit(1) from None
    sys.stdout.write(
        json.dumps({"client_id": issued.client.client_id, "client_secret": issued.client_secret})
        + "\n"
    )
    console.print("[yellow]Store the secret now: it is shown only once.[/yellow]")


def _read_password(password_stdin: bool) -> str:
    # Never from argv: command lines show up in `ps` and shell history.
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="The user's email address (their sign-in name).")],
    role: Annotated[
        list[str], typer.Option(help="trader, ops, admin or auditor; repeat for more.")
    ],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    account: Annotated[
        int | None, typer.Option(help="Existing trading account of a trader (else a new one).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a verified user; a trader without --account gets one at first sign-in."""
    from openbell.identity.domain.errors import (  # noqa: PLC0415
        InvalidUserDefinitionError,
        WeakPasswordError,
    )
    from openbell.identity.domain.users import parse_roles  # noqa: PLC0415
    from openbell.runner import prepare  # noqa: PLC0415
    from openbell.shared.errors import ConflictError  # noqa: PLC0415

    settings = _settings(data_dir, database_url)
    try:
        roles = parse_roles(role)
        password = _read_password(password_stdin)
        asyncio.run(prepare(settings))
        user = _with_identity(
            settings,
            lambda identity: identity.users.create_user(
                email=email, password=password, roles=roles, name=name, account_id=account
            ),
        )
    except (InvalidUserDefinitionError, WeakPasswordError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    except ConflictError:
        console.print("[red]A user with this email or account exists already[/red]")
        raise typer.Exit(1) from None
    sys.stdout.write(json.dumps({"user_id": user.user_id, "account_id": user.account_id}) + "\n")


@users_app.command("disable")
def users_disable(user_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Disable a user: no sign-in; their sessions, tokens and API clients end within a second."""
    from openbell.shared.errors import NotFoundError  # noqa: PLC0415

    settings = _settings(data_dir, database_url)
    try:
        _with_identity(settings, lambda identity: identity.users.disable(user_id))
    except NotFoundError:
        console.print("[red]No such user[/red]")
        raise typer.Exit(1) from None
    console.print(f"disabled {user_id}")


@users_app.command("enable")
def users_enable(user_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Let a disabled user sign in again (their old sessions and API clients stay ended)."""
    from openbell.shared.errors import NotFoundError  # noqa: PLC0415

    settings = _settings(data_dir, database_url)
    try:
        _with_identity(settings, lambda identity: identity.users.enable(user_id))
    except NotFoundError:
        console.print("[red]No such user[/red]")
        raise typer.Exit(1) from None
    console.print(f"enabled {user_id}")


@users_app.command("list")
def users_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List users (ids, roles, status; never credentials)."""
    settings = _settings(data_dir, database_url)
    table = Table("user_id", "email", "roles", "status", "account")
    for user in _with_identity(settings, lambda identity: identity.users.list_users()):
        table.add_row(
            user.user_id,
            user.email,
            " ".join(sorted(role.value for role in user.roles)),
            user.status.value,
            str(user.account_id or ""),
        )
    Console().print(table)


@keys_app.command("rotate")
def keys_rotate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Make a new signing key. Running servers sign with it within seconds; the old key
    stays in the JWKS for OPENBELL_SIGNING_KEY_OVERLAP_SECONDS so its tokens still verify."""
    from openbell.runner import prepare  # noqa: PLC0415

    settings = _settings(data_dir, database_url)
    asyncio.run(prepare(settings))
    kid = _with_identity(settings, lambda identity: identity.keys.rotate_stored())
    sys.stdout.write(json.dumps({"kid": kid}) + "\n")


@keys_app.command("list")
def keys_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List signing keys, newest first: which signs, which are retired and since when."""
    settings = _settings(data_dir, database_url)
    table = Table("kid", "algorithm", "created", "retired")
    for key in _with_identity(settings, lambda identity: identity.keys.stored_keys()):
        table.add_row(
            key.kid,
            key.algorithm,
            _when(key.created_at),
            "" if key.retired_at is None else _when(key.retired_at),
        )
    Console().print(table)


def _when(nanoseconds: int) -> str:
    from datetime import UTC, datetime  # noqa: PLC0415

    return datetime.fromtimestamp(nanoseconds / 1e9, tz=UTC).isoformat(timespec="seconds")


if __name__ == "__main__":  # pragma: no cover
    app()
