"""`rtb bench`: benchmarks; `rtb bench replay` sweeps the rlb replay protocol."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from bidder.settings import data_dir
from bidder.strategies import STRATEGY_NAMES
from rtb.cmd_replay import parse_fraction

NAME = "bench"
HELP = "run benchmarks (replay sweeps, http load)"
EPILOG = """\
examples:
  # iPinYou 2997: four budget fractions x four strategies, tuned on validation, 2 processes
  rtb bench replay --campaigns 2997 --budget-fractions 1/64,1/32,1/16,1/8 \\
      --strategies lin,mcpc,ortb1,ortb2 --seeds 1 --jobs 2 --out sweep-2997
  # add a page with the clicks-vs-budget plot
  rtb bench replay --campaigns 2997,1458 --strategies lin,rand --seeds 1,2 --out s --html
  # the same cells on a Dask cluster (workers must see the data folder at the same path)
  rtb bench replay --campaigns 2997 --strategies lin,mcpc --dask tcp://scheduler:8786 --out s
  rtb bench replay --campaigns 2997 --strategies lin,mcpc --dask local --dask-workers 2 --out s

Campaigns with a test stream are tuned on validation and scored on test; the others are
tuned on the first half of their validation episodes and scored on the second half.
Writes DIR/sweep.json and DIR/sweep.md.
"""


def _csv(kind: Callable[[str], object]) -> Callable[[str], tuple[object, ...]]:
    def parse(text: str) -> tuple[object, ...]:
        try:
            return tuple(kind(p.strip()) for p in text.split(",") if p.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad comma list: {text!r}") from None

    return parse


def _fractions(text: str) -> tuple[float, ...]:
    return tuple(parse_fraction(p) for p in text.split(",") if p.strip())


def _strategies(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [n for n in names if n not in STRATEGY_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown strategy {', '.join(unknown)} (known: {', '.join(STRATEGY_NAMES)})"
        )
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    p = sub.add_parser(
        "replay",
        help="sweep the rlb replay protocol",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--campaigns", type=_csv(str), required=True, help="e.g. 2997,1458")
    p.add_argument("--budget-fractions", type=_fractions, default=(1 / 32,), metavar="C0S")
    p.add_argument("--strategies", type=_strategies, default=("lin", "mcpc"))
    p.add_argument("--seeds", type=_csv(int), default=(1,), help="comma list of seeds")
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.add_argument(
        "--dask",
        metavar="SCHEDULER",
        default=None,
        help="run the cells on a Dask cluster: a scheduler address (tcp://host:8786) or "
        "'local' (a local cluster of --dask-workers processes); overrides --jobs",
    )
    p.add_argument("--dask-workers", type=int, default=2, help="workers of --dask local")
    p.add_argument("--episode", type=int, default=1000, metavar="T")
    p.add_argument("--max-bid", type=int, default=300)
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--html", action="store_true", help="also write DIR/index.html with plots")
    h = sub.add_parser(
        "http",
        help="HTTP load: bidder vs bare aiohttp and naive bidder (benchmarks/bench_http.py)",
        add_help=False,
        prefix_chars="+",  # every option goes through to bench_http.py
    )
    h.add_argument("http_args", nargs=argparse.REMAINDER, help="see bench_http.py --help")


def _run_http(argv: list[str]) -> int:
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_http.py"
    spec = importlib.util.spec_from_file_location("bench_http", path)
    if spec is None or spec.loader is None:
        print(f"rtb bench http: {path} not found (run from a source checkout)", file=sys.stderr)
        return 2
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_http"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    result: int = module.main(argv)
    return result


def run(args: argparse.Namespace) -> int:
    if args.bench == "http":
        return _run_http(list(args.http_args))
    from simulator.html import write_sweep_html
    from simulator.progress import Progress
    from simulator.report import code_version, render_json, render_markdown
    from simulator.sweep import SweepSpec, run_sweep, sweep_document

    spec = SweepSpec(
        campaigns=args.campaigns,
        budget_fractions=args.budget_fractions,
        strategies=args.strategies,
        seeds=args.seeds,
        data_dir=data_dir(),
        episode_len=args.episode,
        max_bid=args.max_bid,
    )
    progress = Progress(len(spec.cells()), "sweep cells")
    try:
        if args.dask:
            from rtb.dask_cluster import dask_client
            from simulator.dask_sweep import run_sweep_dask

            with dask_client(args.dask, args.dask_workers) as client:
                rows = run_sweep_dask(spec, client, progress.advance)
        else:
            rows = run_sweep(spec, args.jobs, progress.advance)
    except (ValueError, OSError, KeyError) as exc:
        print(f"rtb bench replay: {exc}", file=sys.stderr)
        return 2
    finally:
        progress.close()
    args.out.mkdir(parents=True, exist_ok=True)
    table = render_markdown(rows)
    (args.out / "sweep.json").write_bytes(render_json(sweep_document(spec, rows, code_version())))
    (args.out / "sweep.md").write_text(table)
    if args.html:
        write_sweep_html(rows, table, args.out)
    sys.stdout.write(table)
    return 0
