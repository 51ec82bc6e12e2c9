"""The comparison report, computed from `results.jsonl` alone: selection, tables, scores.

For every task and column (a tuned optimizer, its paper defaults `<name>@defaults`, or a
learned optimizer `learned:<checkpoint>`):

- **Selection** (tuned columns): among the tuning runs (role `"tune"`: every grid setting
  on the tuning seeds), the setting with the lowest *median over seeds of the final
  validation loss* (non-finite counts as +inf; ties go to the first setting): `select`, the
  one implementation that `baselines.suite` also uses to choose the setting it reruns. The
  test split is never used for selection.
- **Reported runs**: a tuned column reports its rerun (role `"rerun"`): the selected
  setting on fresh seeds, disjoint from the tuning seeds, so that the numbers are not the
  ones the selection was made on (which would bias them optimistically). Defaults and
  learned columns, untuned, run on the same fresh seeds: every reported column is compared
  on the same seeds. A rerun of another setting than the one `select` gives raises `ValueError`.
- **Edge flag** (from the tuning runs): the selected value of a log-scale hyperparameter is
  the smallest or the largest of its grid, so the grid may not contain the optimum.
- **Table entries**: median [25th percentile, 75th percentile] over the reported seeds of
  the final train loss (on `eval_batches` train batches after the last step), validation
  loss, test loss and, for classifiers, validation and test accuracy.
- **Steps to target**, the **performance profile** and its **integrated score**, and the
  **IQM speedup** over the reference column: as defined in `baselines.suite.scoring`, on the
  reported runs.

`write(outdir, ...)` writes `report.md`, `summary.json`, `curves_<task>.png` and
`profile.png` (see `baselines.suite.plots`) and returns the summary table in markdown.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any

import numpy as np

from baselines.suite import plots, scoring

METRICS = (
  ("train_loss", "train loss"),
  ("valid_loss", "valid loss"),
  ("test_loss", "test loss"),
  ("valid_accuracy", "valid acc"),
  ("test_accuracy", "test acc"),
)


@dataclasses.dataclass
class Column:
  """The runs a report shows for one (task, column): one setting, every reported seed.

  `role`: the reported runs' role ("rerun", "defaults" or "learned"); `num_settings`: the
  size of the tuning grid (1 when untuned); `selection_score`: the selected setting's score
  on the tuning seeds (None when untuned).
  """

  task: str
  name: str
  role: str
  hparams: dict[str, Any]
  runs: list[dict[str, Any]]
  edges: list[str]
  num_settings: int
  selection_score: float | None = None

  def finals(self, metric: str) -> np.ndarray | None:
    """Per seed, the final value of `metric` (None when the task has no such metric)."""
    if metric in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
      key = f"final_{metric}"
      return np.array([r[key] for r in self.runs], float) if key in self.runs[0] else None
    return np.array([r[metric][-1] for r in self.runs], float) if metric in self.runs[0] else None

  def median_curve(self, key: str) -> np.ndarray:
    return np.median(np.array([r[key] for r in self.runs], float), axis=0)


def load(path: str) -> list[dict[str, Any]]:
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def selection_score(runs: list[dict[str, Any]]) -> float:
  """Median over seeds of the final validation loss; +inf when not finite."""
  v = float(np.median([r["valid_loss"][-1] for r in runs]))
  return v if math.isfinite(v) else math.inf


def select(settings: dict[int, list[dict[str, Any]]]) -> int:
  """The setting (a key of `settings`: index -> its runs) of lowest `selection_score`;
  ties go to the lowest index."""
  return min(settings, key=lambda i: (selection_score(settings[i]), i))


def edge_flags(best: dict[str, Any], grid: list[dict[str, Any]], log_dims: list[str]) -> list[str]:
  """`"<hparam> low"` / `"<hparam> high"` for each log-scale value on the end of its grid."""
  flags = []
  for d in log_dims:
    if not isinstance(best.get(d), float):  # a schedule (AutoLRS): no grid to be on the edge of
      continue
    values = sorted({s[d] for s in grid})
    if len(values) > 1 and best[d] in (values[0], values[-1]):
      flags.append(f"{d} {'low' if best[d] == values[0] else 'high'}")
  return flags


def columns(records: list[dict[str, Any]]) -> dict[str, dict[str, Column]]:
  """Per task (in record order), per column name: the column's reported runs.

  Raises `ValueError` when a tuned column has no rerun, or a rerun of another setting than
  `select` picks from its tuning runs.
  """
  groups: dict[tuple[str, str], dict[str, dict[int, list[dict]]]] = {}
  for r in records:
    if "error" not in r:
      by_role = groups.setdefault((r["task"], r["column"]), {})
      by_role.setdefault(r["role"], {}).setdefault(r["setting"], []).append(r)
  out: dict[str, dict[str, Column]] = {}
  for (task, name), by_role in groups.items():
    tuning = by_role.pop("tune", None)
    if len(by_role) != 1 or len(next(iter(by_role.values()))) != 1:
      raise ValueError(
        f"{task} / {name}: expected the runs of one reported setting (a rerun, the defaults "
        f"or a learned optimizer), got roles {sorted(by_role)}: results of an older suite "
        "without reruns on fresh seeds? Run the suite into a new outdir."
      )
    ((role, reported),) = by_role.items()
    ((setting, runs),) = reported.items()
    edges, score = [], None
    if tuning is not None:
      best = select(tuning)
      if role != "rerun" or setting != best:
        raise ValueError(
          f"{task} / {name}: the reported runs are {role} runs of setting {setting}, not a "
          f"rerun of setting {best}, the one selected from the tuning runs."
        )
      grid = [rs[0]["hparams"] for rs in tuning.values()]
      edges = edge_flags(tuning[best][0]["hparams"], grid, runs[0]["log_dims"])
      score = selection_score(tuning[best])
    out.setdefault(task, {})[name] = Column(
      task=task,
      name=name,
      role=role,
      hparams=runs[0]["hparams"],
      runs=sorted(runs, key=lambda r: r["seed"]),
      edges=edges,
      num_settings=len(tuning) if tuning is not None else 1,
      selection_score=score,
    )
  return out


def median_iqr(values: np.ndarray) -> tuple[float, float, float]:
  q25, med, q75 = np.percentile(values, [25, 50, 75])
  return float(med), float(q25), float(q75)


def fmt(values: np.ndarray | None) -> str:
  if values is None:
    return "-"
  med, q25, q75 = median_iqr(values)
  return f"{med:.4g} [{q25:.4g}, {q75:.4g}]"


def fmt_setting(col: Column) -> str:
  text = ", ".join(
    f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in col.hparams.items()
  )
  text = text or "-"
  if col.edges:
    text += " **EDGE: " + ", ".join(col.edges) + "**"
  return text


@dataclasses.dataclass
class Scores:
  """Across-task scores of every column."""

  names: list[str]
  roles: list[str]
  tasks: list[str]
  times: np.ndarray  # [columns, tasks] steps to target
  targets: dict[str, float]
  score: np.ndarray
  speedup_iqm: np.ndarray
  ratios: np.ndarray
  run_speedup: dict[str, tuple[float, float, float]]  # IQM over runs x tasks, 95% CI
  run_ratio: dict[str, tuple[float, float, float]]
  median_ratio: dict[str, float]  # median over tasks of (median final valid / target)


def score_columns(cols: dict[str, dict[str, Column]], reference: str, r_max: float) -> Scores:
  """Steps to target, performance-profile score and IQM speedup of every column."""
  task_names = list(cols)
  roles = {n: c.role for t in task_names for n, c in cols[t].items()}
  names = list(roles)
  times = np.full((len(names), len(task_names)), np.inf)
  targets = {}
  for j, t in enumerate(task_names):
    if reference not in cols[t]:
      targets[t] = math.nan
      continue
    target = float(cols[t][reference].median_curve("valid_loss")[-1])
    targets[t] = target
    for i, n in enumerate(names):
      if n in cols[t]:
        steps = np.asarray(cols[t][n].runs[0]["eval_steps"])
        times[i, j] = scoring.steps_to_target(cols[t][n].median_curve("valid_loss"), steps, target)
  ratio = scoring.ratios(times)
  ref_times = (
    times[names.index(reference)] if reference in names else np.full(len(task_names), np.inf)
  )
  speed = np.array([scoring.iqm(scoring.speedups(times[i], ref_times)) for i in range(len(names))])
  score = scoring.integrated_score(ratio, r_max)
  run_speed, run_ratio, median_ratio = _per_run_scores(cols, names, task_names, targets, ref_times)
  return Scores(
    names,
    [roles[n] for n in names],
    task_names,
    times,
    targets,
    score,
    speed,
    ratio,
    scoring.iqm_with_ci(run_speed) if run_speed else {},
    scoring.iqm_with_ci(run_ratio) if run_ratio else {},
    median_ratio,
  )


def _per_run_scores(cols, names, task_names, targets, ref_times):
  """Per column, [runs, tasks] matrices of per-run speedups and final-loss ratios (columns
  missing a task, or with another number of runs, are left out: the bootstrap needs the
  full matrix), and the median over tasks of the median final-loss ratio."""
  speed, ratio, median_ratio = {}, {}, {}
  usable = [j for j, t in enumerate(task_names) if math.isfinite(targets[t])]
  for n in names:
    if not usable or not all(n in cols[task_names[j]] for j in usable):
      continue
    s_cols, r_cols = [], []
    for j in usable:
      col, target = cols[task_names[j]][n], targets[task_names[j]]
      curves = np.array([r["valid_loss"] for r in col.runs], float)
      steps = np.asarray(col.runs[0]["eval_steps"])
      s_cols.append(scoring.run_speedups(curves, steps, target, ref_times[j]))
      r_cols.append(scoring.final_ratios(col.finals("valid_loss"), target))
    median_ratio[n] = float(np.median([np.median(r) for r in r_cols]))
    if len({len(c) for c in s_cols}) == 1:
      speed[n], ratio[n] = np.stack(s_cols, axis=1), np.stack(r_cols, axis=1)
  return speed, ratio, median_ratio


def _table(header: list[str], rows: list[list[str]]) -> str:
  lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
  return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def summary_table(s: Scores, cols: dict[str, dict[str, Column]], r_max: float) -> str:
  order = sorted(range(len(s.names)), key=lambda i: (-s.score[i], -s.speedup_iqm[i], s.names[i]))
  rows = []
  for i in order:
    name = s.names[i]
    edges = sum(1 for t in s.tasks if name in cols[t] and cols[t][name].edges)
    reached = int(np.sum(np.isfinite(s.times[i])))
    rows.append(
      [
        name,
        f"{s.score[i]:.3f}",
        f"{s.speedup_iqm[i]:.2f}",
        _ci(s.run_speedup.get(name)),
        _ci(s.run_ratio.get(name)),
        f"{s.median_ratio[name]:.3f}" if name in s.median_ratio else "-",
        f"{reached}/{len(s.tasks)}",
        str(edges),
      ]
    )
  header = [
    "optimizer",
    f"profile score (r_max={r_max:g})",
    "IQM speedup vs reference",
    "IQM run speedup [95% CI]",
    "IQM final-loss ratio [95% CI]",
    "median final-loss ratio",
    "tasks reaching target",
    "edge-flagged tasks",
  ]
  return _table(header, rows)


def _ci(estimate: tuple[float, float, float] | None) -> str:
  return "-" if estimate is None else f"{estimate[0]:.2f} [{estimate[1]:.2f}, {estimate[2]:.2f}]"


def task_table(task: str, s: Scores, cols: dict[str, Column]) -> str:
  metrics = [(k, label) for k, label in METRICS if next(iter(cols.values())).finals(k) is not None]
  rows = []
  for name, col in cols.items():
    t = s.times[s.names.index(name), s.tasks.index(task)]
    rows.append(
      [name, fmt_setting(col)]
      + [fmt(col.finals(k)) for k, _ in metrics]
      + [f"{t:.0f}" if math.isfinite(t) else "never"]
    )
  return _table(
    ["optimizer", "setting"] + [label for _, label in metrics] + ["steps to target"], rows
  )


def write(outdir: str, *, name: str, reference: str, r_max: float, protocol: dict[str, Any]) -> str:
  """Writes the report of `outdir/results.jsonl`; returns the summary table (markdown)."""
  records = load(os.path.join(outdir, "results.jsonl"))
  cols = columns(records)
  failed = [r for r in records if "error" in r]
  s = score_columns(cols, reference, r_max)
  summary = summary_table(s, cols, r_max)
  profile_png = os.path.join(outdir, "profile.png")
  n, offset = protocol["num_seeds"], protocol["rerun_seed_offset"]
  plots.profile(s.ratios, s.names, s.roles, s.score, r_max, profile_png)
  lines = [
    f"# Optimizer comparison: {name}",
    "",
    f"Protocol: {json.dumps(protocol)}. Every run: `{protocol['num_steps']}` steps from the "
    "task's initialization; a seed fixes the initialization and the batches, the same for "
    f"every optimizer. Tuning seeds: 0..{n - 1}; reported seeds: {offset}..{offset + n - 1}.",
    "",
    "- Tuned columns (`<optimizer>`): every point of the optimizer's tuning grid runs with "
    "every tuning seed; the selected setting has the lowest median over the tuning seeds of "
    "the final validation loss (non-finite = +inf). The selected setting is then rerun with "
    "the reported seeds, fresh and disjoint from the tuning seeds, and the tables, steps to "
    "target, profile and curves show that rerun, not the runs the selection was made on. "
    "The test split is never used for selection. **EDGE** marks a selected log-scale value "
    "at the end of its grid.",
    "- `<optimizer>@defaults`: the paper's default hyperparameters, untuned. "
    "`learned:<checkpoint>`: a learned optimizer, untuned. Both run with the reported seeds "
    "only: every column is compared on the same seeds.",
    "- Entries: median [25th, 75th percentile] over the reported seeds of the final value; "
    "the train loss "
    "is evaluated on sampled train batches after the last step.",
    f"- **Steps to target**: the target of a task is the reference `{reference}`'s final "
    "validation loss (median over the reported seeds; a tuned reference's rerun). "
    "An optimizer's steps to target is the first "
    "evaluation step at which the median over seeds of its validation loss is <= the target "
    f"(validation is evaluated every {protocol['num_steps'] // protocol['num_evals']} steps); "
    "`never` if it is not reached.",
    "- **Profile score**: AlgoPerf's performance profile over these tasks. Ratio r = steps "
    "to target / the fewest steps of any column on the task (inf if never reached); "
    f"rho(tau) = fraction of tasks with r <= tau; score = integral of rho over [1, {r_max:g}]"
    f" / {r_max - 1:g} (1: fastest everywhere).",
    f"- **IQM speedup**: per task, steps to target of the reference `{reference}` / the "
    "column's (0 if never reached); the interquartile mean over tasks (drop the lowest and "
    "highest floor(n/4)).",
    "- **IQM run speedup** and **IQM final-loss ratio**: per reported run, the reference's "
    "steps to target / the steps at which that run's validation loss reaches the target (0 if "
    "never), and its final validation loss / the target (non-finite: "
    f"{scoring.RATIO_CAP:g}); the IQM over runs x tasks with its 95% stratified-bootstrap "
    "confidence interval (`rliable`, Agarwal et al. 2021). **Median final-loss ratio**: the "
    "median over tasks of the median over seeds of that ratio.",
    "",
    "## Summary",
    "",
    summary,
    "",
    f"![performance profile]({os.path.basename(profile_png)})",
    "",
  ]
  per_task = {}
  for task, task_cols in cols.items():
    png = plots.curves(task, task_cols, os.path.join(outdir, f"curves_{task}.png"))
    target = s.targets[task]
    lines += [
      f"## {task}",
      "",
      f"Target (reference {reference} final validation loss): {target:.4g}.",
      "",
      task_table(task, s, task_cols),
      "",
      f"![{task} curves]({os.path.basename(png)})",
      "",
    ]
    per_task[task] = {
      "target": target,
      "columns": {
        n: {
          "hparams": c.hparams,
          "seeds": [r["seed"] for r in c.runs],
          "edges": c.edges,
          "tuning_valid_loss": c.selection_score,
          "steps_to_target": s.times[s.names.index(n), s.tasks.index(task)],
          **{k: median_iqr(c.finals(k)) for k, _ in METRICS if c.finals(k) is not None},
        }
        for n, c in task_cols.items()
      },
    }
  if failed:
    lines += ["## Failed cells", ""]
    lines += [f"- {r['task']} / {r['optimizer']}: {r['error'].splitlines()[0]}" for r in failed]
    lines.append("")
  with open(os.path.join(outdir, "report.md"), "w") as f:
    f.write("\n".join(lines))
  summary_json = {
    "reference": reference,
    "r_max": r_max,
    "columns": {
      n: {
        "profile_score": float(s.score[i]),
        "iqm_speedup": float(s.speedup_iqm[i]),
        "iqm_run_speedup_ci95": s.run_speedup.get(n),
        "iqm_final_loss_ratio_ci95": s.run_ratio.get(n),
        "median_final_loss_ratio": s.median_ratio.get(n),
        "tasks_reaching_target": int(np.sum(np.isfinite(s.times[i]))),
      }
      for i, n in enumerate(s.names)
    },
    "tasks": per_task,
    "failed": failed,
  }
  with open(os.path.join(outdir, "summary.json"), "w") as f:
    json.dump(summary_json, f, indent=1)
  return summary
