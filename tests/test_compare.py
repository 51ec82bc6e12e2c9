"""The comparison suite: the report agrees with its runs, reruns on fresh seeds, vmapped
sweeps, resume, bad input.

One run of `configs/suite_smoke.py` (2 tasks x AdamW, Lion and a random learned optimizer,
3-point learning-rate grids, 3 tuning seeds, the selected setting and the defaults rerun
on 3 fresh seeds, 100 steps) is shared by the tests that read a report.
"""

import json
import os
import re
import subprocess
import sys
from collections import Counter

import jax
import numpy as np
import optax
import pytest

import baselines
import learned_opt
import tasks
from baselines.suite import cells, compare, report, scoring
from baselines.suite.sweep import Programs, Protocol, sweep
from configs import suite_smoke

ROOT = os.path.join(os.path.dirname(__file__), "..")


@pytest.fixture(scope="module")
def lopt_path(tmp_path_factory):
  """A learned-optimizer checkpoint with random theta (no meta-training)."""
  path = tmp_path_factory.mktemp("lopt") / "random_mlp"
  lopt = learned_opt.get("mlp", hidden_sizes=(4,))
  learned_opt.save(path, lopt, lopt.init(jax.random.PRNGKey(0)))
  return str(path)


def smoke_config(outdir, lopt_path):
  config = suite_smoke.get_config()
  config.outdir = str(outdir)
  config.learned = (lopt_path,)
  return config


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, lopt_path):
  config = smoke_config(tmp_path_factory.mktemp("smoke") / "out", lopt_path)
  compare.compare(config)
  return config


def _report_rows(outdir):
  """report.md's per-task tables: {task: {column: {header: cell}}}."""
  with open(os.path.join(outdir, "report.md")) as f:
    sections = re.split(r"^## ", f.read(), flags=re.M)[1:]
  out = {}
  for section in sections:
    title, *lines = section.splitlines()
    rows = [
      [c.strip() for c in line.strip("|").split("|")] for line in lines if line.startswith("|")
    ]
    if rows:
      out[title] = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[2:]}
  return out


def test_report_agrees_with_recorded_runs(smoke):
  """Selection on the tuning seeds, a rerun of the selected setting on fresh seeds, and a
  report of the reruns (every reported column on the same fresh seeds)."""
  records = report.load(os.path.join(smoke.outdir, "results.jsonl"))
  rows = _report_rows(smoke.outdir)
  assert not [r for r in records if "error" in r]
  steps = np.asarray(records[0]["eval_steps"])
  tuning_seeds = set(range(smoke.num_seeds))
  fresh = set(range(smoke.rerun_seed_offset, smoke.rerun_seed_offset + smoke.num_seeds))
  assert not tuning_seeds & fresh
  learned_name = "learned:" + os.path.basename(smoke.learned[0])
  for task in smoke.tasks:
    runs = [r for r in records if r["task"] == task]
    # 3 grid points x 3 tuning seeds; the selected point and the defaults x 3 fresh seeds.
    for name in smoke.optimizers:
      roles = Counter(r["role"] for r in runs if r["optimizer"] == name)
      assert roles == {"tune": 3 * 3, "rerun": 3, "defaults": 3}, (task, name)
    assert Counter(r["role"] for r in runs if r["column"] == learned_name) == {"learned": 3}
    assert {r["seed"] for r in runs if r["role"] == "tune"} == tuning_seeds
    for role in ("rerun", "defaults", "learned"):
      assert {r["seed"] for r in runs if r["role"] == role} == fresh, (task, role)
    target = None
    columns = [*smoke.optimizers, *(f"{n}@defaults" for n in smoke.optimizers), learned_name]
    for column in columns:
      col_runs = [r for r in runs if r["column"] == column]
      by_setting = {}
      for r in col_runs:
        if r["role"] == "tune":
          by_setting.setdefault(r["setting"], []).append(r)
      chosen = sorted([r for r in col_runs if r["role"] != "tune"], key=lambda r: r["seed"])
      assert len({r["setting"] for r in chosen}) == 1
      row = rows[task][column]
      if by_setting:
        # The rerun setting is the argmin of the median recorded final validation loss of
        # the tuning runs (ties: the first setting).
        medians = {i: np.median([r["valid_loss"][-1] for r in rs]) for i, rs in by_setting.items()}
        best = min(sorted(medians), key=lambda i: medians[i] if np.isfinite(medians[i]) else np.inf)
        assert chosen[0]["role"] == "rerun" and chosen[0]["setting"] == best, (task, column)
        assert chosen[0]["hparams"] == by_setting[best][0]["hparams"]
      if "learning_rate" in chosen[0]["hparams"]:
        lr = chosen[0]["hparams"]["learning_rate"]
        assert row["setting"].startswith(f"learning_rate={lr:.3g}")
      else:
        assert row["setting"] == "-"
      # Medians and IQRs recomputed from the reported (fresh-seed) records match the table.
      finals = {
        "train loss": [r["final_train_loss"] for r in chosen],
        "valid loss": [r["valid_loss"][-1] for r in chosen],
        "test loss": [r["final_test_loss"] for r in chosen],
      }
      if "final_test_accuracy" in chosen[0]:
        finals["test acc"] = [r["final_test_accuracy"] for r in chosen]
      for header, values in finals.items():
        q25, med, q75 = np.percentile(values, [25, 50, 75])
        assert row[header] == f"{med:.4g} [{q25:.4g}, {q75:.4g}]", (task, column, header)
      # Edge flags (tuned columns): the selected learning rate is an end of the tuning grid.
      grid = sorted({rs[0]["hparams"]["learning_rate"] for rs in by_setting.values()})
      on_edge = len(grid) > 1 and chosen[0]["hparams"]["learning_rate"] in (grid[0], grid[-1])
      assert ("EDGE" in row["setting"]) == on_edge, (task, column, row["setting"])
      # Steps to target: first evaluation step where the median validation curve <= target.
      curve = np.median([r["valid_loss"] for r in chosen], axis=0)
      if column == smoke.reference:
        target = curve[-1]
      reached = np.nonzero(curve <= target)[0]
      expected = f"{steps[reached[0]]}" if len(reached) else "never"
      assert row["steps to target"] == expected, (task, column)
  # The report refuses a rerun of another setting than the one selected.
  rerun = next(r for r in records if r["role"] == "rerun")
  bad = [
    {**r, "setting": r["setting"] + 1} if r["role"] == "rerun" and r["task"] == rerun["task"] else r
    for r in records
  ]
  with pytest.raises(ValueError, match="not a rerun of setting"):
    report.columns(bad)
  for name in (
    "report.md",
    "profile.png",
    "summary.json",
    *(f"curves_{t}.png" for t in smoke.tasks),
  ):
    assert os.path.getsize(os.path.join(smoke.outdir, name)) > 0


def test_rerun_skips_finished_cells(smoke):
  cells = os.path.join(smoke.outdir, "cells")
  files = [os.path.join(d, f) for d, _, fs in os.walk(cells) for f in fs]
  assert len(files) == len(smoke.tasks) * (len(smoke.optimizers) + len(smoke.learned))
  before = {f: os.stat(f).st_mtime_ns for f in files}
  with open(os.path.join(smoke.outdir, "results.jsonl")) as f:
    results = f.read()
  compare.compare(smoke)
  assert {f: os.stat(f).st_mtime_ns for f in files} == before
  with open(os.path.join(smoke.outdir, "results.jsonl")) as f:
    assert f.read() == results


def test_vmapped_sweep_equals_one_by_one(smoke):
  """The smoke run's vmapped AdamW grid, and its rerun (the grid's program, padded), against
  the same runs one program per setting.

  Tolerance: rtol 1e-4 (results.jsonl keeps 6 significant digits; batching may reorder
  float32 reductions).
  """
  task = "digits_logreg"
  records = [
    r
    for r in report.load(os.path.join(smoke.outdir, "results.jsonl"))
    if r["task"] == task and r["column"] == "adamw"
  ]
  assert all(r["vmapped"] for r in records)
  tuning = [r for r in records if r["role"] == "tune"]
  rerun = [r for r in records if r["role"] == "rerun"]
  # The largest learning rate of the grid (the most sensitive to rounding), then the rerun.
  checks = [
    ({"learning_rate": max(r["hparams"]["learning_rate"] for r in tuning)}, tuning),
    (rerun[0]["hparams"], rerun),
  ]
  # A factory that needs a concrete learning rate: `sweep` falls back to one program each.
  concrete = lambda s: baselines.get("adamw", learning_rate=float(s["learning_rate"]))
  protocol = Protocol(smoke.num_steps, smoke.num_evals, smoke.eval_batches)
  programs, task = Programs(), tasks.get(task)
  for setting, recs in checks:
    seeds = sorted({r["seed"] for r in recs})
    out = sweep(task, concrete, [setting], seeds, protocol, programs=programs)
    assert out.vmapped == [False]
    for j, seed in enumerate(seeds):
      (rec,) = [r for r in recs if r["hparams"] == setting and r["seed"] == seed]
      for key in ("train_loss", "valid_loss", "final_test_loss"):
        np.testing.assert_allclose(out.runs[0][key][j], rec[key], rtol=1e-4, atol=1e-7)
  assert len(programs.single) == len({repr(s) for s, _ in checks})  # a kept program is reused


def test_sweep_reuses_a_kept_program():
  """A smaller group of settings runs the kept program of a larger one, padded: no new
  program, the same runs."""
  task = tasks.get("quadratic_10d")
  make = lambda s: baselines.get("adamw", **s)
  protocol = Protocol(20, 2, 1, extra_args=())
  programs = Programs()
  settings = [{"learning_rate": lr} for lr in (1e-3, 1e-2, 1e-1)]
  first = sweep(task, make, settings, range(3), protocol, programs=programs)
  again = sweep(task, make, [settings[2], settings[0]], range(3), protocol, programs=programs)
  assert (first.num_programs, again.num_programs) == (1, 0)
  assert again.vmapped == [True, True]
  for runs, i in zip(again.runs, (2, 0), strict=True):
    for key, value in runs.items():
      np.testing.assert_allclose(value, first.runs[i][key], rtol=1e-6, err_msg=key)
  with pytest.raises(ValueError, match="one task"):
    sweep(tasks.get("quadratic_10d"), make, settings, range(3), protocol, programs=programs)


def test_steps_to_target_profile_and_iqm():
  steps = np.array([10, 20, 30, 40])
  assert scoring.steps_to_target(np.array([5.0, 3.0, 2.0, 1.0]), steps, 2.0) == 30
  assert scoring.steps_to_target(np.array([5.0, np.nan, np.nan, 3.0]), steps, 2.0) == np.inf
  times = np.array([[10.0, 20.0], [20.0, np.inf], [40.0, 10.0]])
  ratio = scoring.ratios(times)
  np.testing.assert_array_equal(ratio, [[1, 2], [2, np.inf], [4, 1]])
  score = scoring.integrated_score(ratio, r_max=4.0)
  np.testing.assert_allclose(score, [(1 + 2 / 3) / 2, (2 / 3) / 2, 1 / 2])
  taus = np.linspace(1, 4, 30001)  # the closed form is the area under rho(tau), / (r_max - 1)
  area = np.trapezoid(scoring.profile(ratio, taus), taus, axis=-1) / 3
  np.testing.assert_allclose(area, score, atol=1e-3)
  np.testing.assert_array_equal(
    scoring.speedups(np.array([10.0, np.inf]), np.array([20.0, 40.0])), [2, 0]
  )
  assert scoring.iqm(np.array([1, 2, 3, 4, 100, 0, 5, 6])) == 3.5  # mean of 2, 3, 4, 5
  assert scoring.ratios(np.array([[np.inf], [np.inf]])).tolist() == [[np.inf], [np.inf]]


def test_an_untuned_column_can_be_the_reference(tmp_path):
  """NiNo's protocol: Adam at its defaults, run untuned only, sets the targets."""
  config = smoke_config(tmp_path / "out", str(tmp_path))
  config.update(
    {"learned": (), "untuned": ("adam",), "reference": "adam@defaults", "defaults_column": False}
  )
  suite = cells.Suite.from_config(config)
  adam = [o for o in suite.optimizers if o.label == "adam"]  # the column adam@defaults
  assert len(adam) == 1 and adam[0].roles == ("defaults",)


@pytest.mark.parametrize(
  ("change", "message"),
  [
    ({"optimizers": ("adamw", "adamww")}, "Did you mean 'adamw'"),
    ({"tasks": ("quadratic_10dd",)}, "Unknown task 'quadratic_10dd'"),
    ({"learned": ("not_a_checkpoint",)}, "is not a learned optimizer"),
    ({"reference": "lion", "optimizers": ("adamw",)}, "reference optimizer 'lion'"),
    ({"reference": "adamw@defaults", "defaults_column": False}, "with config.defaults_column"),
    ({"rerun_seed_offset": 2}, "disjoint from the tuning seeds"),
  ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, change, message):
  config = smoke_config(tmp_path / "out", str(tmp_path))  # tmp_path: a directory, no checkpoint
  config.learned = ()
  config.update(change)
  if "learned" in change:
    config.learned = (str(tmp_path / change["learned"][0]),)
    os.makedirs(config.learned[0])
    with open(os.path.join(config.learned[0], "theta"), "w") as f:
      f.write("not orbax")
  with pytest.raises(SystemExit) as exit_info:
    compare.compare(config)
  assert exit_info.value.code == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and message in err, err
  assert not os.path.exists(tmp_path / "out")


def test_outdir_of_another_protocol_is_refused(smoke, capsys):
  config = smoke_config(smoke.outdir, smoke.learned[0])
  config.num_steps = 200
  with pytest.raises(SystemExit) as exit_info:
    compare.compare(config)
  assert exit_info.value.code == 2
  assert "another config.outdir" in capsys.readouterr().err


def test_cli_bad_optimizer_exits_2(tmp_path):
  out = tmp_path / "out"
  proc = subprocess.run(
    [
      sys.executable,
      "-m",
      "baselines.compare",
      "--config=configs/suite_smoke.py",
      "--config.optimizers=('adamw','no_such_optimizer')",
      f"--config.outdir={out}",
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert proc.returncode == 2, proc.stderr
  assert "Unknown optimizer 'no_such_optimizer'" in proc.stderr.strip().splitlines()[-1]
  assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
  assert "Traceback" not in proc.stderr
  assert not out.exists()


def test_suites_meet_their_sizes(tmp_path):
  from configs import suite_full, suite_small

  # suite_small, validated as a run validates it (task, optimizer and dataset names, the
  # grids), writing nothing: the 128 baseline cells its docstring's run time is for.
  small = suite_small.get_config()
  small.outdir = str(tmp_path / "small")
  suite = cells.Suite.from_config(small)
  assert len(suite.task_names) >= 8 and len(suite.optimizers) >= 15 and len(suite.seeds) >= 3
  assert len(suite.task_names) * len(suite.optimizers) == 128
  for opt in suite.optimizers:
    assert opt.roles.count("tune") == small.tune.grid_points, opt.label
    assert opt.roles.count("defaults") == 1, opt.label
  assert not os.path.exists(small.outdir)
  # suite_full: every registered optimizer on the held-out tasks, each with a tuning grid
  # and its paper defaults, which build an optax optimizer.
  full = suite_full.get_config()
  assert set(full.optimizers) == set(baselines.names()) and set(full.tasks) == set(tasks.META_TEST)
  for name in full.optimizers:
    opt = cells.baseline(name, full)
    assert opt.roles.count("tune") >= 1 and opt.roles.count("defaults") == 1, name
    defaults = opt.make_opt(opt.settings[opt.roles.index("defaults")])
    assert isinstance(defaults, optax.GradientTransformation), name
  json.dumps(full.to_dict())


def test_untuned_peers_tuned_learned_rule_and_confidence_intervals(tmp_path):
  """`untuned` optimizers run at their defaults only; `learned_tuned` gives a learned rule a
  learning-rate grid around its stored rate; the summary carries rliable's 95% CIs."""
  path = tmp_path / "residual_muon"
  lopt = learned_opt.get("residual_muon", hidden_sizes=(4,))
  learned_opt.save(path, lopt, lopt.init(jax.random.PRNGKey(0)))
  config = suite_smoke.get_config()
  config.outdir = str(tmp_path / "out")
  config.tasks = ("digits_logreg",)
  config.optimizers = ("adamw",)
  config.untuned = ("muon_linear_decay",)
  config.learned = (str(path),)
  config.learned_tuned = (str(path),)
  suite = cells.Suite.from_config(config)
  by_label = {o.label: o for o in suite.optimizers}
  assert by_label["muon_linear_decay"].roles == ("defaults",)
  tuned = by_label["learned:residual_muon@tuned"]
  rates = [s["learning_rate"] for s in tuned.settings]
  assert len(rates) == config.tune.grid_points and min(rates) < 0.02 < max(rates)
  compare.compare(config)
  records = report.load(os.path.join(config.outdir, "results.jsonl"))
  finals = {}
  for r in records:
    if r["role"] != "tune":
      finals.setdefault(r["column"], []).append(r["valid_loss"][-1])
  # theta at init is Muon with linear decay: the same numbers on the same seeds.
  assert finals["learned:residual_muon"] == finals["muon_linear_decay@defaults"]
  assert "learned:residual_muon@tuned" in finals
  summary = json.load(open(os.path.join(config.outdir, "summary.json")))["columns"]
  for name, col in summary.items():
    iqm, low, high = col["iqm_final_loss_ratio_ci95"]
    assert low <= iqm <= high, name
  assert summary["adamw"]["median_final_loss_ratio"] == pytest.approx(1.0)


def test_confidence_interval_covers_and_narrows():
  rng = np.random.default_rng(0)
  few = {"a": rng.normal(1.0, 0.5, size=(3, 4))}
  many = {"a": rng.normal(1.0, 0.5, size=(30, 4))}
  (_, lo3, hi3), (_, lo30, hi30) = scoring.iqm_with_ci(few)["a"], scoring.iqm_with_ci(many)["a"]
  assert lo30 < 1.0 < hi30 and hi30 - lo30 < hi3 - lo3
  # Reproducible (a resumed suite writes the same report), and numpy's global state is kept.
  state = np.random.get_state()[1].copy()  # noqa: NPY002  (the generator rliable uses)
  assert scoring.iqm_with_ci(few) == scoring.iqm_with_ci(few)
  assert (np.random.get_state()[1] == state).all()  # noqa: NPY002
  assert scoring.final_ratios(np.array([1.0, np.nan, np.inf]), 2.0).tolist() == [
    0.5,
    scoring.RATIO_CAP,
    scoring.RATIO_CAP,
  ]
