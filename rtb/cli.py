"""`rtb` console script: one subcommand per module ``rtb.cmd_<name>``.

Each command module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported only when their command runs, so
``rtb check-config`` does not pay for importing LightGBM.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# command name -> (module, one-line help); examples live in each module's EPILOG
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("rtb.cmd_serve", "run the bidder HTTP server on a config file"),
    "check-config": ("rtb.cmd_check_config", "validate a config file, listing every problem"),
    "synth": ("rtb.cmd_synth", "generate a synthetic market with ground-truth CTR"),
    "train": ("rtb.cmd_train", "train and calibrate the LightGBM CTR model"),
    "replay": ("rtb.cmd_replay", "replay auction logs through the bidder on a simulated clock"),
    "bench": ("rtb.cmd_bench", "run benchmarks (replay sweeps, http load)"),
    "fleet": ("rtb.cmd_fleet", "run a local fleet of bidder nodes sharing budgets through Redis"),
    "audiences": ("rtb.cmd_audiences", "build audience tags from pixel events and the bid log"),
    "report": ("rtb.cmd_report", "campaign report (HTML + PDF) from the bid log and events"),
}


EXAMPLES = """\
examples:
  rtb serve --config config.yaml --port 8080
  rtb check-config config.yaml
  rtb synth --rows 200000 --seed 2 --out data/synth/test
  rtb train --data var/market --format synthetic --out models/default/
  rtb replay --format ipinyou --log LOG --config config.yaml
  rtb bench replay --campaigns 2997 --budget-fractions 1/64,1/32
  rtb fleet --nodes 3 --config config.yaml
  rtb audiences build --config config.yaml --reload-url http://127.0.0.1:8081
  rtb report --campaign harbor-retarget-app --from 2026-06-01 --to 2026-06-07 \\
      --bidlog var/bidlog.jsonl --events var/state/events.jsonl --out reports/harbor
"""


def build_parser(selected: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtb",
        description="Real-time-bidding engine: OpenRTB bidder, CTR model, optimiser, simulator.",
        epilog=EXAMPLES + "\nRun `rtb COMMAND --help` for a command's options and more examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if name != selected:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=getattr(module, "EPILOG", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in args_list if a in COMMANDS), None)
    parser = build_parser(selected)
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    module = args._module
    code: int = module.run(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
