"""Compare optimizers, tuned the same way, on a suite of tasks: what
`python -m baselines.compare --config=configs/suite_*.py` runs and writes.

For every (task, optimizer) cell it runs the optimizer's tuning grid with the tuning seeds
as one vmapped, jitted program, selects the setting of lowest median validation loss, and
reruns it, next to the paper defaults, with fresh seeds (`rerun_seed_offset` on) on the same
compiled program (`baselines.suite.cells`, `baselines.suite.sweep`); learned optimizers run
untuned with the fresh seeds. Every reported number comes from the fresh seeds. It writes
into `config.outdir`: `cells/<task>/<optimizer>.jsonl` per finished cell, `results.jsonl`
(every run's curves and settings), `report.md`, `summary.json`, `curves_<task>.png` and
`profile.png` (`baselines.suite.report`). Rerunning with the same outdir skips finished
cells. Bad input (an unknown task or optimizer, a path that is not a learned
optimizer, an outdir written with another protocol, an unknown config key) prints one
message and exits with status 2 before anything is written.
"""

from __future__ import annotations

import os

import ml_collections
from tqdm import tqdm

import cli
from baselines.suite import report
from baselines.suite.cells import Suite


def compare(config: ml_collections.ConfigDict) -> str:
  """Runs (or resumes) the suite of `config` and writes its report; returns the summary."""
  try:
    suite = Suite.from_config(config)
  except ValueError as e:
    cli.usage_error(str(e))
  suite.write_config()
  cells = suite.cells()
  todo = [(t, o) for t, o in cells if not os.path.exists(suite.cell_path(t, o.label))]
  bar = tqdm(total=len(cells), initial=len(cells) - len(todo), desc="cells", unit="cell")
  for task_name, opt in todo:
    bar.set_postfix_str(f"{task_name} / {opt.label}")
    records = suite.run_cell(task_name, opt)
    if "error" in records[0]:
      tqdm.write(f"{task_name} / {opt.label} failed: {records[0]['error'].splitlines()[0]}")
    suite.write_cell(task_name, opt.label, records)
    bar.update()
  bar.close()
  suite.write_results()
  return report.write(
    suite.outdir,
    name=config.name,
    reference=config.reference,
    r_max=config.r_max,
    protocol=suite.protocol_json(),
  )
