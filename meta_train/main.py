"""Meta-train a learned optimizer: an absl program over an ml_collections config.

    python -m meta_train.main --config=configs/quickstart.py --workdir=runs/quickstart \
        [--config.num_steps=200 --config.estimator.std=0.03 ...]

Rerunning with the same workdir resumes from its newest checkpoint. Bad input (an unknown
config key, task, architecture or estimator, an unwritable workdir, a workdir holding
another learned optimizer's checkpoints) prints one message and exits with status 2,
touching nothing in the workdir.
"""

from __future__ import annotations

import jax
from absl import flags
from ml_collections import config_flags

import cli
from meta_train import job

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to a config file (configs/*.py).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints and metrics.")


def main(argv: list[str]) -> None:
  cli.start(argv, _CONFIG, _WORKDIR)
  if _CONFIG.value.get("distributed", False):
    jax.distributed.initialize()  # multi-host: every process runs this same command
  run = job.setup_or_exit(_CONFIG.value, _WORKDIR.value)
  state = job.run(run)
  print(
    f"Meta-trained to step {int(state.step)}; the learned optimizer loads with "
    f"learned_opt.load({run.workdir!r})."
  )


if __name__ == "__main__":
  cli.run(main)
