"""Command-line glue shared by the absl entry points (`meta_train.main`, `meta_train.nowcast`,
`meta_train.demo`, `baselines.compare`).

Bad input prints one line, `error: <message>`, on stderr and exits with status 2
(`USAGE_ERROR`) before anything is written. This module imports absl only (nothing of ours,
no jax), so a front end's flags are parsed and rejected before any heavy import is needed.

    import cli

    def main(argv):
      cli.start(argv, _CONFIG, _WORKDIR)  # quiet logging, no stray arguments, flags given
      ...

    if __name__ == "__main__":
      cli.run(main)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn

from absl import app, flags, logging

USAGE_ERROR = 2


def usage_error(message: str) -> NoReturn:
  """Prints one message and exits with status 2 (bad input)."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(USAGE_ERROR)


def parse_flags(argv: list[str]) -> list[str]:
  """absl flag parsing where a bad flag (e.g. an unknown config key) exits with status 2."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    usage_error(str(e))
  except (AttributeError, KeyError) as e:  # ml_collections: an override of an unknown key
    while isinstance(e, BaseException) and e.args:
      e = e.args[0]
    detail = str(e).replace("\n", " ")
    overrides = " ".join(a for a in argv[1:] if a.startswith("--config."))
    usage_error(f"unknown config key in {overrides}: {detail}")


def start(argv: list[str], *required: flags.FlagHolder, example: str = "") -> None:
  """The first lines of every entry point's `main`.

  Sets absl logging to WARNING (orbax logs every file it reads or writes at INFO), and exits
  with a usage error on positional arguments or when a `required` flag is not given
  (`example`, e.g. `"--config=configs/suite_smoke.py"`, is shown in that message).
  """
  logging.set_verbosity(logging.WARNING)
  if len(argv) > 1:
    usage_error(f"unexpected arguments {argv[1:]}")
  if any(holder.value is None for holder in required):
    names = [f"--{holder.name}" for holder in required]
    if len(names) == 1:
      message = f"{names[0]} is required"
    else:
      message = f"{'both' if len(names) == 2 else 'all of'} {' and '.join(names)} are required"
    usage_error(f"{message}, e.g. {example}." if example else f"{message}.")


def run(main: Callable[[list[str]], Any]) -> None:
  """`absl.app.run(main)` with `parse_flags`: bad flags exit with status 2."""
  app.run(main, flags_parser=parse_flags)
