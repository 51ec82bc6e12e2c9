"""The demo: load a learned optimizer as an optax optimizer and compare it with Adam.

    python -m meta_train.demo --workdir=runs/demo [--config=configs/demo.py --config.x=...]

1. With `config.demo.learned` set (`configs/demo.py`: the shipped `pretrained:` rule), loads
   it; otherwise (`configs/demo_metatrain.py`) meta-trains (or resumes) the config's learned
   optimizer with `meta_train.main`'s set-up and loop, and loads the result back with
   `learned_opt.load(workdir)`. Either way: an ordinary optax optimizer.
2. Trains each held-out task with it and with Adam at three learning rates, over a few seeds.
3. Prints a table of final losses per task, writes `demo_results.json` and
   `demo_curves.png` into the workdir, and says where everything is.
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


def compare(demo, learned: dict, task_name: str) -> dict[str, dict]:
  """Trains `task_name` with the `learned` optimizer (`{label: optax optimizer}`) and with
  Adam; per-seed results."""
  task = tasks.get(task_name)
  optimizers = dict(learned)
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


def report(results: dict[str, dict], task_name: str) -> str:
  lines = [
    f"Held-out task {task_name}: median over {len(next(iter(results.values()))['test_loss'])}"
    " seeds (min-max)",
    f"{'optimizer':<24}{'final train loss':>26}{'valid loss':>26}{'test loss':>26}",
  ]
  cell = lambda v: f"{np.median(v):.4f} ({np.min(v):.4f}-{np.max(v):.4f})".rjust(26)
  for name, r in results.items():
    lines.append(
      f"{name:<24}{cell(final_train_loss(r['train_loss']))}{cell(r['valid_loss'])}"
      f"{cell(r['test_loss'])}"
    )
  return "\n".join(lines)


def plot(by_task: dict[str, dict[str, dict]], path: str) -> None:
  fig, axes = plt.subplots(1, len(by_task), figsize=(6 * len(by_task), 4.5), squeeze=False)
  for ax, (task_name, results) in zip(axes[0], by_task.items(), strict=True):
    _plot_task(ax, results, task_name)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def _plot_task(ax, results: dict[str, dict], task_name: str) -> None:
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


def main(argv: list[str]) -> None:
  cli.start(argv)
  config, workdir = _CONFIG.value, _WORKDIR.value
  demo = config.demo
  start = time.monotonic()
  source = demo.get("learned", "")
  pretrained = bool(source)
  try:
    if source:
      learned_opt.read_record(source)  # a bad name or path fails here, with one message
      os.makedirs(workdir, exist_ok=True)
    else:
      run = meta_train_program.setup(config, workdir)
      for name in demo.heldout_tasks:
        tasks.get(name)
  except (ValueError, OSError) as e:
    cli.usage_error(str(e))
  if not source:
    meta_train_program.meta_train(run)
    workdir = source = run.workdir
  meta_seconds = time.monotonic() - start

  lopt, theta = learned_opt.load_theta(source)  # read once, for every task
  learned = {f"learned ({lopt.architecture})": lopt.opt(theta, num_steps=demo.num_steps)}
  by_task = {name: compare(demo, learned, name) for name in demo.heldout_tasks}
  tables = "\n\n".join(report(results, name) for name, results in by_task.items())
  png = os.path.join(workdir, "demo_curves.png")
  plot(by_task, png)
  summary = os.path.join(workdir, "demo_results.json")
  with open(summary, "w") as f:
    json.dump(
      {
        "learned": source,
        "meta_train_seconds": meta_seconds,
        "num_steps": demo.num_steps,
        "results": {
          task_name: {
            name: {
              "final_train_loss": final_train_loss(r["train_loss"]).tolist(),
              "valid_loss": r["valid_loss"].tolist(),
              "test_loss": r["test_loss"].tolist(),
            }
            for name, r in results.items()
          }
          for task_name, results in by_task.items()
        },
      },
      f,
      indent=1,
    )
  print()
  print(tables)
  print()
  if pretrained:
    print(f"Demo total: {time.monotonic() - start:.0f} s.")
  else:
    print(f"Meta-training: {meta_seconds:.0f} s; demo total: {time.monotonic() - start:.0f} s.")
    print(
      f"Metrics:           {os.path.join(workdir, 'metrics.jsonl')} and TensorBoard in "
      f"{os.path.join(workdir, 'tb')}"
    )
  print(f"Learned optimizer: learned_opt.load({source!r}, num_steps=N)")
  print(f"Loss curves:       {png}")
  print(f"Results:           {summary}")


if __name__ == "__main__":
  cli.run(main)
