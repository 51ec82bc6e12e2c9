"""The curves of a meta-training run as a PNG: meta-loss per family, and the periodic
evaluation losses on held-out tasks, against the meta-step. A nowcaster's run
(`python -m meta_train.nowcast`): its L1 training loss, and per held-out task the nowcast's
error over the better trivial predictor's (`heldout/nino_ratio`).

    python -m meta_train.plot_run --workdir=runs/pretrain --out=runs/pretrain/curves.png \
        [--max_step=1500]

Reads `DIR/metrics.jsonl` (one JSON object per logged step; see WORKSPACE.md). The
meta-loss is smoothed by a running median over `--window` logged steps.
"""

from __future__ import annotations

import json
import os
import sys

import matplotlib
import numpy as np
from absl import app, flags

matplotlib.use("Agg")
import matplotlib.pyplot as plt

_WORKDIR = flags.DEFINE_string("workdir", None, "A meta-training workdir.", required=True)
_OUT = flags.DEFINE_string("out", None, "The PNG to write (default: DIR/curves.png).")
_WINDOW = flags.DEFINE_integer("window", 20, "Running-median window, in logged steps.")
_MAX_STEP = flags.DEFINE_integer("max_step", None, "Plot meta-steps up to this one only.")


def read_metrics(workdir: str) -> list[dict]:
  """The records of `workdir/metrics.jsonl`, in order; a missing file is a `ValueError`."""
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.isfile(path):
    raise ValueError(f"{path} does not exist: is {workdir} a meta-training workdir?")
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def running_median(x: np.ndarray, window: int) -> np.ndarray:
  """The median of the last `window` values at each index (fewer at the start)."""
  return np.array([np.median(x[max(0, i - window + 1) : i + 1]) for i in range(len(x))])


def plot(records: list[dict], out: str, window: int) -> None:
  """Writes the meta-loss (per family) and eval-loss panels of `records` to `out`."""
  losses = sorted(k for r in records for k in r if k.endswith("/meta_loss"))
  evals = sorted({k for r in records for k in r if k.startswith("eval/") and "valid" in k})
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  for key in dict.fromkeys(losses):
    rows = [(r["step"], r[key]) for r in records if key in r]
    steps, values = np.array(rows).T
    axes[0].plot(steps, running_median(values, window), label=key.split("/")[0])
  axes[0].set(xlabel="meta-step", ylabel="meta-loss (running median)", yscale="log")
  axes[0].legend(fontsize=8)
  for key in evals:
    rows = [(r["step"], r[key]) for r in records if key in r]
    steps, values = np.array(rows).T
    axes[1].plot(steps, values, marker="o", label=key.split("/")[1])
  axes[1].set(xlabel="meta-step", ylabel="held-out validation loss", yscale="log")
  if evals:
    axes[1].legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(out, dpi=100)
  plt.close(fig)


def plot_nowcaster(records: list[dict], out: str, window: int) -> None:
  """Writes the L1 training loss and the held-out error ratio panels of `records` to `out`."""
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  steps, values = np.array([(r["step"], r["train_l1"]) for r in records]).T
  axes[0].plot(steps, running_median(values, window))
  axes[0].set(xlabel="training step", ylabel="L1 of the normalized change", yscale="log")
  tasks = sorted({k.split("/")[1] for r in records for k in r if k.endswith("/nino_mae")})
  for task in tasks:

    def ratio(r, task=task):
      keys = [k.removesuffix("nino_mae") for k in r if k.startswith(f"heldout/{task}/")]
      keys = [k for k in keys if k + "nino_mae" in r]
      return np.mean(
        [r[k + "nino_mae"] / min(r[k + "no_change_mae"], r[k + "linear_mae"]) for k in keys]
      )

    rows = [
      (r["step"], ratio(r)) for r in records if any(k.startswith(f"heldout/{task}/") for k in r)
    ]
    axes[1].plot(*np.array(rows).T, marker="o", label=task)
  axes[1].axhline(1.0, color="gray", lw=0.8)
  axes[1].set(xlabel="training step", ylabel="held-out error / best trivial predictor's")
  if tasks:
    axes[1].legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(out, dpi=100)
  plt.close(fig)


def main(argv):
  del argv
  try:
    records = read_metrics(_WORKDIR.value)
    if _MAX_STEP.value is not None:
      records = [r for r in records if r["step"] <= _MAX_STEP.value]
  except ValueError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  out = _OUT.value or os.path.join(_WORKDIR.value, "curves.png")
  nowcaster = any("train_l1" in r for r in records)
  (plot_nowcaster if nowcaster else plot)(records, out, _WINDOW.value)
  print(f"Wrote {out}.")


if __name__ == "__main__":
  app.run(main)
