"""`rtb check-config FILE`: validate a config file without serving, listing every problem."""

from __future__ import annotations

import argparse

from bidder.config.load import load_config
from bidder.errors import ConfigError

NAME = "check-config"
HELP = "validate a config file, listing every problem"
EPILOG = """\
examples:
  rtb check-config config.yaml
      config.yaml: OK (5 campaigns)                         exit status 0
  rtb check-config broken.yaml
      campaigns[2].budget.daily: must be > 0, got -50       exit status 1
      (one line per problem, all problems at once)

The same check runs at startup and before every reload (SIGHUP, POST /admin/reload).
Secrets are not needed: env vars named by *_env keys are only read, never required.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="config file to check, e.g. config.yaml")


def run(args: argparse.Namespace) -> int:
    """Print ``FILE: OK (N campaigns)`` and return 0, or one line per problem and return 1."""
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        for line in exc.lines():
            print(line)
        return 1
    count = len(config.campaigns)
    print(f"{args.file}: OK ({count} campaign{'' if count == 1 else 's'})")
    return 0
