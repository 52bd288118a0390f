"""The identity commands: users create|disable|list, clients create|revoke, keys rotate|list."""

import json

import pytest
from typer.testing import CliRunner

from openbell.cli import app

PASSWORD = "correct horse battery staple"


@pytest.fixture
def run(tmp_path, monkeypatch):
    for name, value in (("TIME_COST", 1), ("MEMORY_COST_KIB", 64), ("PARALLELISM", 1)):
        monkeypatch.setenv(f"OPENBELL_ARGON2_{name}", str(value))
    runner = CliRunner()

    def invoke(*args, stdin=None):
        return runner.invoke(app, [*args, "--data-dir", str(tmp_path)], input=stdin)

    return invoke


def test_users_are_created_listed_and_disabled(run):
    created = run(
        "users",
        "create",
        "--email",
        "Ops@Example.com",
        "--role",
        "ops",
        "--role",
        "auditor",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert created.exit_code == 0, created.output
    user_id = json.loads(created.stdout)["user_id"]
    assert PASSWORD not in created.output
    listed = run("users", "list")
    assert "ops@example.com" in listed.stdout
    assert "auditor ops" in listed.stdout
    assert "active" in listed.stdout
    disabled = run("users", "disable", user_id)
    assert disabled.exit_code == 0
    assert "disabled" in run("users", "list").stdout
    assert run("users", "disable", "usr_nope").exit_code == 1
    assert run("users", "enable", user_id).exit_code == 0
    assert "active" in run("users", "list").stdout
    assert run("users", "enable", "usr_nope").exit_code == 1


def test_users_create_refuses_weak_passwords_unknown_roles_and_duplicates(run):
    weak = run(
        "users",
        "create",
        "--email",
        "a@example.com",
        "--role",
        "trader",
        "--password-stdin",
        stdin="password1234\n",
    )
    assert weak.exit_code == 2
    assert "common" in weak.output
    role = run(
        "users",
        "create",
        "--email",
        "a@example.com",
        "--role",
        "root",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert role.exit_code == 2
    first = run(
        "users",
        "create",
        "--email",
        "a@example.com",
        "--role",
        "trader",
        "--account",
        "7",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["account_id"] == 7
    again = run(
        "users",
        "create",
        "--email",
        "A@example.com",
        "--role",
        "trader",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert again.exit_code == 1


def test_the_password_prompt_is_hidden_and_confirmed(run):
    result = run(
        "users",
        "create",
        "--email",
        "b@example.com",
        "--role",
        "auditor",
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output


def test_clients_are_created_for_either_flow_and_revoked(run):
    program = run("clients", "create", "--name", "bot", "--account", "3", "--scopes", "read trade")
    assert program.exit_code == 0, program.output
    issued = json.loads(program.stdout)
    assert issued["client_secret"].startswith("obs_")
    console = run(
        "clients",
        "create",
        "--name",
        "console",
        "--public",
        "--scopes",
        "openid read trade withdraw",
        "--redirect-uri",
        "https://console.example/callback",
    )
    assert console.exit_code == 0, console.output
    assert json.loads(console.stdout)["client_secret"] == ""
    refused = run(
        "clients", "create", "--name", "bad", "--scopes", "read withdraw", "--account", "3"
    )
    assert refused.exit_code == 2
    revoked = run("clients", "revoke", issued["client_id"])
    assert revoked.exit_code == 0
    assert "yes" in run("clients", "list").stdout
    assert run("clients", "revoke", "obc_nope").exit_code == 1


def test_keys_rotate_and_list_newest_first(run):
    first = json.loads(run("keys", "rotate").stdout)["kid"]
    second = json.loads(run("keys", "rotate").stdout)["kid"]
    assert first != second
    listed = run("keys", "list")
    assert listed.exit_code == 0
    lines = [
        line for line in listed.stdout.splitlines() if first[:10] in line or second[:10] in line
    ]
    assert second[:10] in lines[0]
    assert len(lines) == 2
    assert listed.stdout.count("EdDSA") == 3  # the first key, made on first use, and two more


def test_a_client_secret_rotates_with_the_old_one_kept_for_the_overlap(run, tmp_path):
    import asyncio  # noqa: PLC0415

    from openbell.identity.bootstrap import build_identity  # noqa: PLC0415
    from openbell.platform.settings import Settings  # noqa: PLC0415

    issued = json.loads(run("clients", "create", "--name", "bot", "--account", "3").stdout)
    rotated = run("clients", "rotate", issued["client_id"])
    assert rotated.exit_code == 0, rotated.output
    new = json.loads(rotated.stdout)
    assert new["client_id"] == issued["client_id"]
    assert new["client_secret"] != issued["client_secret"]

    async def authenticates(secret):
        settings = Settings(
            data_dir=tmp_path, argon2_time_cost=1, argon2_memory_cost_kib=64, argon2_parallelism=1
        )
        identity = build_identity(settings)
        try:
            await identity.clients.authenticate(issued["client_id"], secret)
        except Exception:  # noqa: BLE001
            return False
        finally:
            await identity.close()
        return True

    assert asyncio.run(authenticates(issued["client_secret"]))
    assert asyncio.run(authenticates(new["client_secret"]))
    assert run("clients", "rotate", "obc_nope").exit_code == 1


def listed_row(run, client_id):
    (row,) = [line for line in run("clients", "list").stdout.splitlines() if client_id in line]
    return row


def test_an_operators_program_gets_ops_alone_and_no_client_gets_admin_or_audit(run):
    program = run("clients", "create", "--name", "runbook", "--scopes", "ops")
    assert program.exit_code == 0, program.output
    assert "ops" in listed_row(run, json.loads(program.stdout)["client_id"])
    for scopes, account in (("admin", None), ("audit", None), ("read ops", None), ("ops", "3")):
        extra = ["--account", account] if account else []
        refused = run("clients", "create", "--name", "bad", "--scopes", scopes, *extra)
        assert refused.exit_code == 2, (scopes, refused.output)


def test_disabling_a_trader_revokes_the_operator_made_client_for_their_account(run):
    created = run(
        "users",
        "create",
        "--email",
        "t@example.com",
        "--role",
        "trader",
        "--account",
        "3",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert created.exit_code == 0, created.output
    bot = json.loads(run("clients", "create", "--name", "bot", "--account", "3").stdout)
    other = json.loads(run("clients", "create", "--name", "other", "--account", "4").stdout)
    assert run("users", "disable", json.loads(created.stdout)["user_id"]).exit_code == 0
    assert "yes" in listed_row(run, bot["client_id"])
    assert "yes" not in listed_row(run, other["client_id"])
