"""The comparison report's figures: loss curves per task and the performance profile.

Curves show, per column, the median over seeds with a band from the 25th to the 75th
percentile: the training loss (a moving average over 1/50 of the run) and the validation
loss at its evaluation steps. Defaults columns are left out of the curves (they are in the
tables and the profile) to keep the figure readable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from baselines.suite import scoring


def _style(role: str, index: int) -> dict[str, Any]:
  color = plt.get_cmap("tab20")((2 * index + index // 10) % 20)  # dark hues, then light ones
  if role == "learned":
    return {"color": "black", "lw": 2.2}
  return {"color": color, "lw": 1.2, "ls": ":" if role == "defaults" else "-"}


def _band(ax, x, values: np.ndarray, label: str, style: dict[str, Any]) -> None:
  q25, med, q75 = np.percentile(values, [25, 50, 75], axis=0)
  ax.plot(x, med, label=label, **style)
  ax.fill_between(x, q25, q75, color=style["color"], alpha=0.15, lw=0)


def curves(task: str, columns: Mapping[str, Any], path: str) -> str:
  """Training and validation loss curves of a task's columns (`report.Column`s)."""
  fig, (ax_train, ax_valid) = plt.subplots(1, 2, figsize=(13, 4.8))
  shown = [(n, c) for n, c in columns.items() if c.role != "defaults"]
  for index, (name, col) in enumerate(shown):
    style = _style(col.role, index)
    train = np.array([r["train_loss"] for r in col.runs], float)
    window = max(1, train.shape[-1] // 50)
    kernel = np.ones(window) / window
    smooth = np.stack([np.convolve(c, kernel, mode="valid") for c in train])
    _band(ax_train, np.arange(smooth.shape[-1]) + window, smooth, name, style)
    valid = np.array([r["valid_loss"] for r in col.runs], float)
    _band(ax_valid, col.runs[0]["eval_steps"], valid, name, style)
  ax_train.set(xlabel="step", ylabel="training loss (moving average)", title=f"{task}: train")
  ax_valid.set(xlabel="step", ylabel="validation loss", title=f"{task}: validation")
  for ax in (ax_train, ax_valid):
    ax.set_yscale("log")
  ax_valid.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def profile(
  ratios: np.ndarray,
  names: Sequence[str],
  roles: Sequence[str],
  scores: np.ndarray,
  r_max: float,
  path: str,
) -> str:
  """The performance profile rho(tau) of every column on [1, r_max], labelled with scores."""
  taus = np.linspace(1.0, r_max, 301)
  rho = scoring.profile(ratios, taus)
  fig, ax = plt.subplots(figsize=(10, 5.5))
  order = sorted(range(len(names)), key=lambda i: -scores[i])
  for rank, i in enumerate(order):
    label = f"{names[i]} ({scores[i]:.2f})"
    ax.step(taus, rho[i], where="post", label=label, **_style(roles[i], rank))
  ax.set(
    xlabel="tau (steps to target / best steps on the task)",
    ylabel="fraction of tasks with ratio <= tau",
    title=f"Performance profile (score = area / {r_max - 1:g})",
    xlim=(1.0, r_max),
    ylim=(-0.02, 1.02),
  )
  ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), ncol=1 + len(names) // 30)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path
