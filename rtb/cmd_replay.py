"""`rtb replay`: replay an auction log through a pricing strategy and write a report."""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

from bidder.errors import ConfigError
from bidder.settings import data_dir
from bidder.strategies import STRATEGY_NAMES, StrategyError

NAME = "replay"
HELP = "replay auction logs through the bidder on a simulated clock"
FORMATS = ("rlb", "ipinyou", "bidlog", "synthetic")
_CONFIGS = Path(__file__).resolve().parents[1] / "simulator" / "configs"
DEFAULT_CONFIGS = {
    "ipinyou": _CONFIGS / "ipinyou-2259.yaml",
    "synthetic": _CONFIGS / "synthetic.yaml",
}
EPILOG = """\
examples:
  # published lin_bid row for iPinYou 2997 at c0 = 1/32 (71 clicks)
  rtb replay --format rlb --log ../shared/data/ipinyou/rlb-dp/streams/2997.test.txt \\
      --budget-fraction 1/32 --episode 1000 --strategy lin --param b0=10 --out r.json
  # lin with b0 tuned on 2997.validation.txt, HTML page with plots
  rtb replay --format rlb --log ../shared/data/ipinyou/rlb-dp/streams/2997.test.txt \\
      --strategy lin --out r.json --html r-html
  # ORTB1 with fixed parameters (--param repeats)
  rtb replay --format rlb --log .../2997.test.txt --strategy ortb1 --param c=80 \\
      --param lambda=2.4e-4

  # a synthetic market (rtb synth --out DIR) with the optimiser on (simulator/configs/synthetic.yaml)
  rtb replay --format synthetic --log DIR --budget-fraction 1/8 --out rs.json

  # iPinYou 2259 raw log through the real decide() (second price, 1/4 of the log's cost)
  rtb replay --format ipinyou --log ../shared/data/ipinyou/camp2259-raw/test.log.txt \\
      --budget-fraction 1/4 --out r2259.json

Missing strategy parameters are tuned on the campaign's validation stream (grid search,
most clicks), never on the replayed log. Money is in the log's unit (iPinYou: fen CPM).
"""


def parse_fraction(text: str) -> float:
    """``1/32`` or ``0.03125`` -> 0.03125; must be > 0."""
    try:
        value = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(
            f"not a fraction: {text!r} (e.g. 1/32 or 0.03125)"
        ) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def parse_param(text: str) -> tuple[str, float]:
    """``NAME=VALUE`` with a numeric value."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name.strip()}: not a number: {value!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", required=True, choices=FORMATS, help="log format")
    parser.add_argument("--log", required=True, type=Path, help="auction log to replay")
    parser.add_argument(
        "--budget-fraction",
        type=parse_fraction,
        default=1 / 32,
        metavar="C0",
        help="budget as a fraction of the training cost per auction (default 1/32)",
    )
    parser.add_argument(
        "--episode", type=int, default=1000, metavar="T", help="auctions per episode"
    )
    parser.add_argument("--max-bid", type=int, default=300, help="bid cap in the log's unit")
    parser.add_argument("--strategy", choices=STRATEGY_NAMES, default="lin")
    parser.add_argument(
        "--param",
        type=parse_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="strategy parameter (repeatable); missing ones are tuned on validation",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of stochastic strategies")
    parser.add_argument("--train-info", type=Path, help="default: <data>/ipinyou/rlb-dp/info/")
    parser.add_argument("--validation", type=Path, help="default: <camp>.validation.txt by --log")
    parser.add_argument(
        "--config", type=Path, help="bidder config for ipinyou/synthetic (default: shipped)"
    )
    parser.add_argument("--model", type=Path, help="CTR model directory (default: priors)")
    parser.add_argument(
        "--auction",
        choices=("second", "first"),
        default="second",
        help="ipinyou/synthetic: second price pays payprice, first price pays the bid",
    )
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--html", type=Path, metavar="DIR", help="write an HTML page with plots")


def run(args: argparse.Namespace) -> int:
    try:
        if args.format == "rlb":
            return _run_rlb(args)
        return _run_full(args)
    except (StrategyError, ConfigError, ValueError, OSError, KeyError) as exc:
        print(f"rtb replay: {exc}", file=sys.stderr)
        return 2


def _run_full(args: argparse.Namespace) -> int:
    """ipinyou / synthetic: every row through parse -> decide -> notices -> ledger."""
    from simulator.full_run import run_full_replay
    from simulator.html import write_replay_html
    from simulator.replay import AuctionType
    from simulator.report import code_version, render_json

    log = args.log / "log.tsv" if args.log.is_dir() else args.log
    config = args.config or DEFAULT_CONFIGS.get(args.format, Path("config.yaml"))
    scorer = None
    if args.model is not None:
        from bidder.model.scorer import load_scorer

        scorer = load_scorer(args.model)
    report = run_full_replay(
        log,
        config,
        budget_fraction=args.budget_fraction,
        auction=AuctionType(args.auction),
        seed=args.seed,
        version=code_version(),
        scorer=scorer,
        synthetic=args.format == "synthetic",
        bidlog=args.format == "bidlog",
    )
    if args.out is not None:
        args.out.write_bytes(render_json(report))
    if args.html is not None:
        write_replay_html(report, args.html)
    print(
        f"{log.name} ({args.format}, {args.auction} price) c0={args.budget_fraction:g}: "
        f"auctions={report['auctions']} bids={report['bids']} "
        f"impressions={report['impressions']} clicks={report['clicks']} "
        f"spend={report['spend']} {report['money_unit']} budget={report['budget']}"
    )
    return 0


def _run_rlb(args: argparse.Namespace) -> int:
    from simulator.html import write_replay_html
    from simulator.progress import Progress
    from simulator.report import code_version, render_json
    from simulator.rlb import ReplayConfig
    from simulator.rlb_run import resolve_files, run_replay
    from simulator.tune import candidates

    params = dict(args.param)
    config = ReplayConfig(args.budget_fraction, args.episode, args.max_bid)
    files = resolve_files(args.log, data_dir(), args.train_info, args.validation)
    progress = Progress(len(candidates(args.strategy, params)), f"tuning {args.strategy}")
    report = run_replay(
        args.log, args.strategy, params, config, args.seed, files, code_version(), progress.advance
    )
    progress.close()
    if args.out is not None:
        args.out.write_bytes(render_json(report))
    if args.html is not None:
        write_replay_html(report, args.html)
    print(
        f"{report['campaign']} {args.strategy} {report['strategy']['params']} "
        f"c0={args.budget_fraction:g}: auctions={report['auctions']} "
        f"impressions={report['impressions']} clicks={report['clicks']} "
        f"cost={report['spend']} win_rate={report['win_rate']:.4f}"
    )
    return 0
