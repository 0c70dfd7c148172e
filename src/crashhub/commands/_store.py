"""Shared options of the commands that use the hub's store (``--data``, ``--config``)."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crashhub.config import Settings
    from crashhub.store import Hub


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="data directory (default: $CRASHHUB_DATA or ./crashhub-data)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="TOML settings file (default: <data>/crashhub.toml, or $CRASHHUB_CONFIG)",
    )


def settings_from(args: argparse.Namespace, **overrides: object) -> Settings:
    from crashhub import config

    return config.load(args.data, config_file=args.config, env=config.environ(), **overrides)


def open_hub(args: argparse.Namespace) -> Hub:
    from crashhub.store import open_store

    return open_store(settings_from(args))
