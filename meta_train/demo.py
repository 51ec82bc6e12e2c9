"""The demo: meta-train, load the result as an optax optimizer, compare it with Adam.

    python -m meta_train.demo --workdir=runs/demo [--config=configs/demo.py --config.x=...]

1. Meta-trains (or resumes) the config's learned optimizer (`meta_train.main`'s set-up and
   loop).
2. Loads it back with `learned_opt.load(workdir)`: an ordinary optax optimizer.
3. Trains the held-out task with it and with Adam at three learning rates, over a few seeds.
4. Prints a table of final losses, writes `demo_results.json` and `demo_curves.png` into
   the workdir, and says where everything is.
"""

from __future__ import annotations

import json
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import optax
from absl import flags
from ml_collections import config_flags

import cli
import learned_opt
import tasks
from meta_train import main as meta_train_program

_DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "..", "configs", "demo.py")
_CONFIG = config_flags.DEFINE_config_file("config", os.path.normpath(_DEFAULT_CONFIG), "Config.")
_WORKDIR = flags.DEFINE_string("workdir", "runs/demo", "Directory for the run and its report.")


def compare(config, workdir: str) -> dict[str, dict]:
  """Trains the held-out task with the learned optimizer and with Adam; per-seed results."""
  demo = config.demo
  task = tasks.get(demo.heldout_task)
  optimizers = {"learned (mlp)": learned_opt.load(workdir, num_steps=demo.num_steps)}
  for lr in demo.adam_learning_rates:
    optimizers[f"adam lr={lr:g}"] = optax.adam(lr)
  results = {}
  for name, opt in optimizers.items():
    runs = [tasks.train(task, opt, num_steps=demo.num_steps, seed=s) for s in demo.seeds]
    results[name] = {k: np.stack([r[k] for r in runs]) for k in runs[0]}
  return results


def final_train_loss(curves: np.ndarray) -> np.ndarray:
  """Per seed: the mean training loss over the last 5% of steps (at least one)."""
  tail = max(1, curves.shape[-1] // 20)
  return curves[..., -tail:].mean(axis=-1)


def report(results: dict[str, dict], task_name: str, workdir: str) -> str:
  lines = [
    f"Held-out task {task_name}: median over {len(next(iter(results.values()))['test_loss'])}"
    " seeds (min-max)",
    f"{'optimizer':<16}{'final train loss':>26}{'valid loss':>26}{'test loss':>26}",
  ]
  cell = lambda v: f"{np.median(v):.4f} ({np.min(v):.4f}-{np.max(v):.4f})".rjust(26)
  for name, r in results.items():
    lines.append(
      f"{name:<16}{cell(final_train_loss(r['train_loss']))}{cell(r['valid_loss'])}"
      f"{cell(r['test_loss'])}"
    )
  return "\n".join(lines)


def plot(results: dict[str, dict], task_name: str, path: str) -> None:
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for name, r in results.items():
    curves = r["train_loss"]
    window = max(1, curves.shape[-1] // 50)
    kernel = np.ones(window) / window
    smooth = np.stack([np.convolve(c, kernel, mode="valid") for c in curves])
    steps = np.arange(smooth.shape[-1]) + window
    ax.plot(steps, np.median(smooth, 0), label=name, lw=2 if name.startswith("learned") else 1.2)
    ax.fill_between(steps, smooth.min(0), smooth.max(0), alpha=0.15)
  ax.set(xlabel="step", ylabel="training loss (smoothed)", yscale="log", title=task_name)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def main(argv: list[str]) -> None:
  cli.start(argv)
  config, workdir = _CONFIG.value, _WORKDIR.value
  start = time.monotonic()
  try:
    run = meta_train_program.setup(config, workdir)
  except ValueError as e:
    cli.usage_error(str(e))
  meta_train_program.meta_train(run)
  meta_seconds = time.monotonic() - start
  workdir = run.workdir

  results = compare(config, workdir)
  table = report(results, config.demo.heldout_task, workdir)
  png = os.path.join(workdir, "demo_curves.png")
  plot(results, config.demo.heldout_task, png)
  summary = os.path.join(workdir, "demo_results.json")
  with open(summary, "w") as f:
    json.dump(
      {
        "heldout_task": config.demo.heldout_task,
        "meta_train_seconds": meta_seconds,
        "results": {
          name: {
            "final_train_loss": final_train_loss(r["train_loss"]).tolist(),
            "valid_loss": r["valid_loss"].tolist(),
            "test_loss": r["test_loss"].tolist(),
          }
          for name, r in results.items()
        },
      },
      f,
      indent=1,
    )
  print()
  print(table)
  print()
  print(f"Meta-training: {meta_seconds:.0f} s; demo total: {time.monotonic() - start:.0f} s.")
  print(f"Learned optimizer: {workdir}  (learned_opt.load({workdir!r}))")
  print(f"Loss curves:       {png}")
  print(f"Results:           {summary}")
  print(
    f"Metrics:           {os.path.join(workdir, 'metrics.jsonl')} and TensorBoard in "
    f"{os.path.join(workdir, 'tb')}"
  )


if __name__ == "__main__":
  cli.run(main)
