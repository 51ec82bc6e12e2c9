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

A config file (`--config=configs/x.py`) that is missing (close names are suggested), does
not parse, or defines no `get_config` is refused before it runs; `check_kind` refuses a
config of another entry point, and `check_config` values against rules such as `COUNT`
(each entry point lists its own), so that nothing is written on bad values.
"""

from __future__ import annotations

import ast
import difflib
import math
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from absl import app, flags, logging

USAGE_ERROR = 2


def usage_error(message: str) -> NoReturn:
  """Prints one message and exits with status 2 (bad input)."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(USAGE_ERROR)


def parse_flags(argv: list[str]) -> list[str]:
  """absl flag parsing where a bad flag (e.g. an unknown config key, a config file that is
  missing or broken) exits with status 2."""
  config_files = [_flag_value(argv, name) for name in _config_file_flags()]
  for path in config_files:
    if path is not None:
      check_config_file(path)
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    usage_error(_last_line(str(e)))
  except (AttributeError, KeyError) as e:  # ml_collections: an override of an unknown key
    while isinstance(e, BaseException) and e.args:
      e = e.args[0]
    detail = str(e).replace("\n", " ")
    overrides = " ".join(a for a in argv[1:] if a.startswith("--config."))
    usage_error(f"unknown config key in {overrides}: {detail}")
  except Exception as e:  # the config file's own code failed while it was loaded
    names = " ".join(p for p in config_files if p)
    usage_error(f"loading {names} failed: {type(e).__name__}: {_last_line(str(e))}")


def _config_file_flags() -> list[str]:
  """The names of the defined ml_collections config-file flags (`--config=<file>`)."""
  return [
    name
    for name in list(flags.FLAGS)
    if getattr(flags.FLAGS[name].parser, "flag_type", lambda: "")() == "config object"
  ]


def _flag_value(argv: list[str], name: str) -> str | None:
  """The value given as `--name=value` or `--name value` in `argv`, the last one if many."""
  value = None
  for i, arg in enumerate(argv[1:], 1):
    if arg.startswith(f"--{name}="):
      value = arg.split("=", 1)[1]
    elif arg == f"--{name}" and i + 1 < len(argv):
      value = argv[i + 1]
  return value


def _last_line(text: str) -> str:
  lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
  return lines[-1] if lines else text


def check_config_file(spec: str) -> None:
  """Exits with a usage error unless `spec` (`path[:argument]`) names a Python file that
  parses and defines `get_config`; a missing file gets the close names of its folder."""
  path = spec if os.path.isfile(spec) else spec.split(":", 1)[0]
  if not os.path.isfile(path):
    folder = os.path.dirname(path) or "."
    known = (
      sorted(f for f in os.listdir(folder) if f.endswith(".py")) if os.path.isdir(folder) else []
    )
    close = difflib.get_close_matches(os.path.basename(path), known, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(os.path.join(folder, c) for c in close)}?" if close else ""
    usage_error(f"config file {path} not found.{hint}")
  try:
    with open(path) as f:
      tree = ast.parse(f.read(), filename=path)
  except (OSError, UnicodeDecodeError) as e:
    usage_error(f"config file {path} cannot be read: {e}")
  except SyntaxError as e:
    usage_error(f"config file {path}, line {e.lineno}: syntax error: {e.msg}.")
  if not any(isinstance(n, ast.FunctionDef) and n.name == "get_config" for n in tree.body):
    usage_error(f"config file {path} defines no get_config(): it is not a config file.")


def check_kind(config: Any, holder: flags.FlagHolder, keys: tuple[str, ...], example: str) -> None:
  """Exits with a usage error when the config of `holder` lacks any of `keys`, the top-level
  keys of this entry point's configs (a config of another entry point, e.g. a suite config
  given to meta-training); `example` names a config that fits."""
  missing = [k for k in keys if k not in config]
  if missing:
    path = getattr(flags.FLAGS[holder.name], "config_filename", "the config")
    usage_error(
      f"{path} is not a config for this program: it has no {', '.join(missing)} "
      f"(e.g. --{holder.name}={example})."
    )


# Rules of `check_config`: what a value must be, and the test.
Rule = tuple[str, Callable[[Any], bool]]
_int = lambda v: isinstance(v, int) and not isinstance(v, bool)
_number = lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
COUNT: Rule = ("an integer >= 1", lambda v: _int(v) and v >= 1)
COUNT_OR_OFF: Rule = ("an integer >= 1, or 0 (off)", lambda v: _int(v) and v >= 0)
POSITIVE: Rule = ("a number > 0", lambda v: _number(v) and v > 0)
LIMIT_OR_OFF: Rule = (
  "a number > 0, or 0 or None (no limit)",
  lambda v: v is None or (_number(v) and v >= 0),
)


def check_config(config: Any, rules: Mapping[str, Rule]) -> None:
  """Raises `ValueError` naming every value of `config` that breaks its rule (`rules`:
  dotted key -> rule; keys the config does not have are skipped)."""
  problems = []
  for key, (expected, ok) in rules.items():
    value, present = config, True
    for part in key.split("."):
      if part not in value:
        present = False
        break
      value = value[part]
    if present and not ok(value):
      problems.append(f"config.{key}={value!r} must be {expected}")
  if problems:
    raise ValueError("; ".join(problems) + ".")


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
