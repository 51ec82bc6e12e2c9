"""Compare optimizers, tuned the same way, on a suite of tasks: one command, one report.

    python -m baselines.compare --config=configs/suite_small.py \
        [--config.outdir=runs/suite_small --config.learned='("runs/demo",)' ...]

What it runs and writes: `baselines.suite.compare`. Bad input prints one message and exits
with status 2 before anything is written.
"""

from __future__ import annotations

import os

from ml_collections import config_flags

import cli
from baselines.suite import compare
from baselines.suite.cells import CONFIG_KEYS

_CONFIG = config_flags.DEFINE_config_file("config", None, "Suite config (configs/suite_*.py).")


def main(argv: list[str]) -> None:
  cli.start(argv, _CONFIG, example="--config=configs/suite_smoke.py")
  cli.check_kind(_CONFIG.value, _CONFIG, CONFIG_KEYS, example="configs/suite_smoke.py")
  summary = compare.compare(_CONFIG.value)
  outdir = os.path.abspath(_CONFIG.value.outdir)
  print()
  print(summary)
  print()
  print(f"Report:              {os.path.join(outdir, 'report.md')}")
  print(f"Performance profile: {os.path.join(outdir, 'profile.png')}")
  print(f"Every run:           {os.path.join(outdir, 'results.jsonl')}")


if __name__ == "__main__":
  cli.run(main)
