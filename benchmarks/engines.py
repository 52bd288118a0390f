"""`python -m benchmarks.engines`: `openbell bench engine` with the rival Python engines.

Run from the root of a source checkout with the engines installed
(`pip install -e '.[bench]'`). It is the same run as `openbell bench engine`
(same options, same report) plus a `rivals` section: every engine of
`benchmarks.rivals` gets the same stream, converted before timing, under the
same garbage-collector thresholds, after the same warm-up.

A rival that cannot finish the stream within `--rival-budget` seconds is
stopped; it is then compared with openbell on the prefix it did run, by the sum
of per-command times of both, and its agreement is not checked. One that is not
installed is reported as skipped.
"""

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from benchmarks import rivals as rival_engines
from openbell.bench.engine import (
    Comparison,
    Prepare,
    Report,
    Timing,
    UsageError,
    disagreements,
    engine_summary,
    prefix_ratio,
    ratio,
    resolve_journal,
    run_engine_bench,
    time_calls,
)
from openbell.bench.operations import Call, EngineState, Operation
from openbell.bench.workload import WorkloadError

DEFAULT_BUDGET_SECONDS = 60.0


def compare_rivals(
    names: Sequence[str] | None = None, budget_seconds: float = DEFAULT_BUDGET_SECONDS
) -> Comparison:
    """A comparison that times `names` (every known rival by default) on the run's stream."""
    unknown = sorted(set(names or ()) - set(rival_engines.RIVALS))
    if unknown:
        raise UsageError(f"unknown rivals: {', '.join(unknown)}")
    chosen = list(names or rival_engines.RIVALS)
    budget_ns = int(budget_seconds * 1e9)

    def compare(
        operations: Sequence[Operation], *, ours: Timing, reference: Timing, report: Report
    ) -> None:
        results: dict[str, Any] = {}
        for name in chosen:
            results[name] = _time_rival(name, operations, budget_ns, ours, reference, report)
        results["not_benchmarked"] = dict(rival_engines.SKIPPED)
        report.output["rivals"] = results

    return compare


def _time_rival(
    name: str,
    operations: Sequence[Operation],
    budget_ns: int,
    ours: Timing,
    reference: Timing,
    report: Report,
) -> dict[str, Any]:
    opened: list[rival_engines.Rival] = []
    try:
        with rival_engines.quiet_logging():
            timing = time_calls(_prepare(name, opened), operations, budget_ns)
    except rival_engines.Unavailable as unavailable:
        return {"skipped": str(unavailable)}
    finally:
        for rival in opened:
            rival.close()
    return _summary(name, opened[-1], timing, ours=ours, reference=reference, report=report)


def _prepare(name: str, opened: list[rival_engines.Rival]) -> Prepare:
    def prepare(operations: Sequence[Operation]) -> tuple[list[Call], Callable[[], EngineState]]:
        rival = rival_engines.create(name)
        opened.append(rival)
        return rival.calls(operations), rival.state

    return prepare


def _summary(
    name: str,
    rival: rival_engines.Rival,
    timing: Timing,
    *,
    ours: Timing,
    reference: Timing,
    report: Report,
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "version": rival.version,
        "emulated": list(rival.emulated),
        **engine_summary(timing),
    }
    if timing.error is not None:
        summary["error"] = timing.error
        report.notes.append(f"{name} failed after {timing.commands} commands: {timing.error}")
    if timing.partial or timing.error is not None:
        prefix = timing.commands
        summary["partial"] = True
        summary["openbell_vs_this"] = prefix_ratio(ours, timing, prefix)
        summary["ratio_basis"] = f"sum of per-command times over the first {prefix} commands"
        return summary
    summary["openbell_vs_this"] = ratio(ours, timing)
    summary["ratio_basis"] = "commands per second over the whole stream"
    problems = disagreements(timing.state, reference.state, with_counts=False)
    summary["agrees_with_reference"] = not problems
    if problems:
        summary["disagreements"] = problems
        report.notes.append(f"{name} disagrees with the reference book: {'; '.join(problems)}")
    return summary


def main(
    commands: Annotated[int, typer.Option(help="Commands to generate.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 1,
    workload: Annotated[Path | None, typer.Option(help="JSON Lines workload to replay.")] = None,
    journal: Annotated[
        str | None, typer.Option(help="Also run journaled: sqlite or postgres.")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="postgresql+asyncpg://... for --journal postgres.")
    ] = None,
    save: Annotated[
        Path | None, typer.Option(help="Write the generated stream as JSON Lines.")
    ] = None,
    rivals: Annotated[str | None, typer.Option(help="Only these rivals, comma-separated.")] = None,
    rival_budget: Annotated[
        float, typer.Option(help="Seconds each rival may take.")
    ] = DEFAULT_BUDGET_SECONDS,
    repeat: Annotated[
        int, typer.Option(help="Alternating rounds of openbell and the reference book.")
    ] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Time openbell's core, the bare reference book and the rival Python engines."""
    try:
        comparison = compare_rivals(rivals.split(",") if rivals else None, rival_budget)
        database_url = resolve_journal(journal, database_url)
        result = run_engine_bench(
            commands=commands,
            seed=seed,
            workload=workload,
            journal=journal,
            database_url=database_url,
            compare_with=comparison,
            save=save,
            repeat=repeat,
        )
    except (UsageError, WorkloadError) as error:
        Console(stderr=True).print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    text = json.dumps(result, indent=2)
    if as_json:
        sys.stdout.write(text + "\n")
    else:
        Console().print_json(text)


if __name__ == "__main__":
    typer.run(main)
