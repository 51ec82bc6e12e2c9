"""Train a NiNo nowcaster on stored Adam trajectories: an absl program over a config.

    python -m meta_train.nowcast --config=configs/nino.py --workdir=runs/nino \
        [--config.train.num_steps=2000 --config.nowcaster.hidden=64 ...]

What it does and writes: `meta_train.nowcast.train`. Rerunning with the same workdir resumes;
bad input prints one message and exits with status 2, touching nothing in the workdir.
"""

from __future__ import annotations

from absl import flags
from ml_collections import config_flags

import cli
from meta_train.nowcast import train

_CONFIG = config_flags.DEFINE_config_file(
  "config", None, "Path to a config file (configs/nino.py)."
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for trajectories, checkpoints, metrics.")


def main(argv: list[str]) -> None:
  cli.start(argv, _CONFIG, _WORKDIR)
  cli.check_kind(_CONFIG.value, _CONFIG, train.CONFIG_KEYS, example="configs/nino.py")
  try:
    run = train.setup(_CONFIG.value, _WORKDIR.value)
  except ValueError as e:
    cli.usage_error(str(e))
  try:
    state = train.train_nowcaster(run)
  except ValueError as e:  # trajectories of another spec in the workdir
    cli.usage_error(str(e))
  print(
    f"Trained the nowcaster to step {int(state.step)}; it loads with "
    f"learned_opt.load({run.workdir!r}) as jump_every(adam({run.lopt.base_learning_rate}), "
    f"nowcaster, every={run.lopt.every}, context={run.lopt.context})."
  )


if __name__ == "__main__":
  cli.run(main)
