"""Faults and bad input: damaged checkpoints, the workdir lock, torn metrics, bad values and
config files, damaged comparison outdirs, non-finite gradients and meta-losses.

One uninterrupted tiny meta-training run (quadratics only, checkpoints at steps 2, 4 and 6)
is shared by the module; each recovery test damages a copy of its workdir.
"""

import json
import logging
import os
import re
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_job import QUICKSTART, ROOT, tiny_config

import cli
import learned_opt
from baselines.suite import compare
from configs import suite_smoke
from meta_train import estimators, loop
from meta_train import main as program
from meta_train import workdir as workdir_lib

NUM_STEPS = 6


def fault_config(num_steps=NUM_STEPS):
  config = tiny_config(num_steps)
  config.tasks = {"quadratic": dict(config.tasks.quadratic)}
  config.checkpoint_every = 2
  config.max_to_keep = 5
  config.eval.every = 0
  return config


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """The uninterrupted run: its workdir (steps 2, 4, 6) and its final theta."""
  workdir = tmp_path_factory.mktemp("reference") / "w"
  state = program.train(fault_config(), str(workdir))
  return workdir, jax.device_get(state.theta)


def _equal(a, b):
  leaves = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
  return all(np.array_equal(x, y) for x, y in leaves)


def _metadata(step_dir):
  os.remove(step_dir / "train_state" / "_METADATA")


def _record(step_dir):
  (step_dir / "lopt" / "metadata").write_text("garbage{{")


def _array_data(step_dir, item="train_state"):
  """Every data file of `item` cut in half (small arrays are stored inline in the root's
  b-tree nodes, `<item>/d/`; larger ones under `<item>/ocdbt.process_0/d/`)."""
  for f in (step_dir / item).glob("**/d/*"):
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def _missing_folder(step_dir):
  shutil.rmtree(step_dir / "theta")


DAMAGE = {
  "metadata": _metadata,
  "record": _record,
  "array_data": _array_data,
  "missing_folder": _missing_folder,
}


@pytest.mark.parametrize("where", ["newest", "final"])
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_checkpoint_is_set_aside_and_the_run_ends_as_uninterrupted(
  reference, tmp_path, caplog, capsys, damage, where
):
  ref_dir, ref_theta = reference
  workdir = tmp_path / "w"
  shutil.copytree(ref_dir, workdir)
  checkpoints = workdir / "checkpoints"
  config = fault_config()
  if where == "newest":  # a run that stopped after step 4, its newest checkpoint damaged,
    shutil.rmtree(checkpoints / "6")  # and a metrics line torn by the kill
    with open(workdir / "metrics.jsonl", "a") as f:
      f.write('{"step": 5, "meta_lo')
    damaged = 4
  else:  # a finished run whose final checkpoint is damaged, resumed with a new log cadence
    damaged = NUM_STEPS
    config.log_every = 2
  DAMAGE[damage](checkpoints / str(damaged))
  with caplog.at_level(logging.WARNING):
    state = program.train(config, str(workdir))
  set_aside = f"{damaged}.corrupt-1"
  assert (checkpoints / set_aside).is_dir()
  assert any(set_aside in r.getMessage() for r in caplog.records)
  assert int(state.step) == NUM_STEPS and _equal(state.theta, ref_theta)
  _, loaded = learned_opt.load_theta(workdir)
  assert _equal(loaded, ref_theta)
  out = capsys.readouterr().out
  assert f"Resuming from step {damaged - 2}" in out
  if where == "newest":
    steps = [json.loads(line)["step"] for line in open(workdir / "metrics.jsonl")]
    assert steps == list(range(1, NUM_STEPS + 1))
  else:
    assert "Config changed since that checkpoint: log_every: 1 -> 2." in out
  assert not (workdir / workdir_lib.LOCK_FILE).exists()


def test_unreadable_final_checkpoint_is_written_again(reference, tmp_path, monkeypatch):
  ref_dir, ref_theta = reference
  workdir = tmp_path / "w"
  shutil.copytree(ref_dir, workdir)
  save = workdir_lib.Checkpoints.save
  saves = []

  def save_then_damage(self, state, record, config):  # the first write of step 6 fails
    save(self, state, record, config)
    saves.append(int(state.step))
    if saves == [NUM_STEPS]:
      _record(workdir / "checkpoints" / str(NUM_STEPS))

  shutil.rmtree(workdir / "checkpoints" / str(NUM_STEPS))
  monkeypatch.setattr(workdir_lib.Checkpoints, "save", save_then_damage)
  program.train(fault_config(), str(workdir))
  assert saves == [NUM_STEPS, NUM_STEPS]
  assert (workdir / "checkpoints" / f"{NUM_STEPS}.corrupt-1").is_dir()
  assert _equal(learned_opt.load_theta(workdir)[1], ref_theta)


# ---------------------------------------------------------------------------------------
# learned_opt.load: CheckpointError naming the path; an older readable step of a workdir.
# ---------------------------------------------------------------------------------------


def test_load_falls_back_to_an_older_readable_step(reference, tmp_path, caplog):
  workdir = tmp_path / "w"
  shutil.copytree(reference[0], workdir)
  _record(workdir / "checkpoints" / "6")
  _missing_folder(workdir / "checkpoints" / "4")
  with caplog.at_level(logging.WARNING):
    _, theta = learned_opt.load_theta(workdir)
  _, step_2 = learned_opt.load_theta(workdir / "checkpoints" / "2")
  assert _equal(theta, step_2)
  warned = " ".join(r.getMessage() for r in caplog.records)
  assert os.path.join("checkpoints", "6") in warned and os.path.join("checkpoints", "4") in warned
  _missing_folder(workdir / "checkpoints" / "2")
  with pytest.raises(learned_opt.CheckpointError, match="No readable learned-optimizer"):
    learned_opt.load(workdir)


@pytest.mark.parametrize(
  ("damage", "message"),
  [
    (_record, "the record cannot be read"),
    (lambda d: (d / "theta" / "_METADATA").unlink(), "theta/_METADATA is missing"),
    (lambda d: _array_data(d, "theta"), "theta"),
    (lambda d: (d / "lopt" / "metadata").write_text('{"format_version": 2}'), "record's"),
    (_missing_folder, "No learned-optimizer checkpoint"),
  ],
)
def test_load_of_a_damaged_checkpoint_raises_checkpoint_error_naming_it(
  reference, tmp_path, damage, message
):
  step = tmp_path / "6"
  shutil.copytree(reference[0] / "checkpoints" / "6", step)
  damage(step)
  with pytest.raises(learned_opt.CheckpointError, match=message) as info:
    learned_opt.load(step)
  assert str(step) in str(info.value)


def test_record_field_types_are_checked_at_load(tmp_path):
  lopt = learned_opt.MLPLOpt(hidden_sizes=(4,))
  path = learned_opt.save(tmp_path / "lopt", lopt, lopt.init(jax.random.PRNGKey(0)))
  record_file = tmp_path / "lopt" / "lopt" / "metadata"
  record = json.loads(record_file.read_text())
  record["config"]["step_mult"] = "big"
  record_file.write_text(json.dumps(record))
  with pytest.raises(learned_opt.CheckpointError, match=r"step_mult='big'.*not a finite number"):
    learned_opt.load(path)
  with pytest.raises(ValueError, match=r"hidden_sizes='abc'.*not a tuple of int"):
    learned_opt.get("mlp", hidden_sizes="abc")
  learned_opt.get("mlp", hidden_sizes=[4], exp_mult=1)  # JSON lists and ints are fine


# ---------------------------------------------------------------------------------------
# Bad values and config files: one message, nothing written.
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
  ("key", "value", "message"),
  [
    ("checkpoint_every", 0, "checkpoint_every=0 must be an integer >= 1"),
    ("log_every", 0, "log_every=0 must be an integer >= 1"),
    ("max_to_keep", 0, "max_to_keep=0"),
    ("num_steps", -5, "num_steps=-5"),
    ("max_wall_minutes", -1.0, "max_wall_minutes=-1.0 must be a number > 0, or 0 or None"),
    ("meta_opt.learning_rate", -1.0, "meta_opt.learning_rate=-1.0 must be a number > 0"),
    ("estimator.std", 0.0, "estimator.std=0.0"),
    ("lopt.hidden_sizes", "abc", "hidden_sizes='abc'"),
  ],
)
def test_bad_values_are_refused_before_anything_is_written(tmp_path, key, value, message):
  config = fault_config()
  if "." in key:  # the block is replaced whole: a ConfigDict refuses a value of another type
    block, name = key.split(".")
    config[block] = {**config[block].to_dict(), name: value}
  else:
    config[key] = value
  with pytest.raises(ValueError, match=re.escape(message)):
    program.setup(config, str(tmp_path / "w"))
  assert not (tmp_path / "w").exists()


def test_config_files_missing_broken_or_of_another_kind(tmp_path, capsys):
  broken = tmp_path / "broken.py"
  broken.write_text("def get_config(:\n")
  plain = tmp_path / "plain.py"
  plain.write_text("x = 1\n")
  misspelled = os.path.join(ROOT, "configs", "quickstrt.py")
  for path, message in [
    (misspelled, f"{misspelled} not found. Did you mean {QUICKSTART}?"),
    (str(broken), f"{broken}, line 1: syntax error"),
    (str(plain), f"{plain} defines no get_config()"),
  ]:
    with pytest.raises(SystemExit) as info:
      cli.check_config_file(path)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
  cli.check_config_file(QUICKSTART + ":an_argument")


def _run_main(*args):
  return subprocess.run(
    [sys.executable, "-m", "meta_train.main", *args],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )


def test_cli_wrong_kind_of_config_and_a_held_lock_exit_2(tmp_path):
  result = _run_main("--config=configs/suite_smoke.py", f"--workdir={tmp_path / 'a'}")
  assert result.returncode == 2, result.stderr
  assert result.stderr.strip().splitlines() == [
    "error: configs/suite_smoke.py is not a config for this program: it has no lopt, "
    "estimator, meta_opt (e.g. --config=configs/quickstart.py)."
  ]
  assert not (tmp_path / "a").exists()
  held = tmp_path / "held"
  held.mkdir()
  lock = workdir_lib.Lock(str(held))
  lock.acquire()  # this test's process holds the workdir
  try:
    result = _run_main(f"--config={QUICKSTART}", f"--workdir={held}")
  finally:
    lock.release()
  assert result.returncode == 2, result.stderr
  assert f"is in use by pid {os.getpid()}" in result.stderr
  assert "Traceback" not in result.stderr
  assert sorted(os.listdir(held)) == []


# ---------------------------------------------------------------------------------------
# The lock, metrics.jsonl, non-finite values.
# ---------------------------------------------------------------------------------------


def test_lock_refuses_a_second_holder_and_takes_over_a_stale_one(tmp_path, caplog):
  first = workdir_lib.Lock(str(tmp_path))
  first.acquire()
  with pytest.raises(workdir_lib.WorkdirLocked, match=f"in use by pid {os.getpid()} on host"):
    workdir_lib.Lock(str(tmp_path)).acquire()
  first.release()
  assert not (tmp_path / "lock").exists()
  dead = subprocess.Popen(["true"])
  dead.wait()
  (tmp_path / "lock").write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename}))
  with caplog.at_level(logging.WARNING):
    workdir_lib.Lock(str(tmp_path)).acquire()
  assert "Taking over the stale lock" in caplog.text and str(dead.pid) in caplog.text
  assert json.loads((tmp_path / "lock").read_text())["pid"] == os.getpid()


def test_torn_metrics_line_is_dropped_with_a_warning(tmp_path, caplog):
  (tmp_path / loop.METRICS_FILE).write_text('{"step": 1, "x": 1.0}\n{"step": 2, "x": 2.0}\n{"st')
  with caplog.at_level(logging.WARNING):
    writer = loop.MetricsWriter(str(tmp_path), resume_step=2)
  writer.write(3, {"x": float("nan")})
  writer.close()
  lines = (tmp_path / loop.METRICS_FILE).read_text().splitlines()
  assert [json.loads(line)["step"] for line in lines] == [1, 2, 3]
  assert np.isnan(json.loads(lines[-1])["x"])
  assert "Dropping line 3" in caplog.text


def test_a_population_that_diverged_whole_logs_nan_not_zero():
  grads = {"w": jnp.zeros((4, 2))}
  _, metrics = estimators.masked_mean_metrics(
    grads, jnp.full(4, jnp.inf), jnp.zeros(4, bool), jnp.zeros(4, bool), 10
  )
  assert np.isnan(metrics["meta_loss"]) and int(metrics["num_nonfinite"]) == 4
  _, metrics = estimators.masked_mean_metrics(
    grads, jnp.array([1.0, 3.0, jnp.nan, 5.0]), jnp.array([1, 1, 0, 1], bool), jnp.zeros(4, bool), 1
  )
  assert float(metrics["meta_loss"]) == 3.0


def test_a_nan_gradient_element_spoils_only_that_element():
  """The learned rules' NaN policy (`learned_opt.base.map_tensors`): a non-finite gradient
  element is taken as 0, for that element only."""
  lopt = learned_opt.MLPLOpt(hidden_sizes=(4,), features=("grad", "momentum_0.9", "rms_0.99"))
  opt = lopt.opt(lopt.init(jax.random.PRNGKey(0)))
  params = {"w": jnp.ones((3, 4))}
  grads = {"w": jax.random.normal(jax.random.PRNGKey(1), (3, 4))}
  poisoned = {"w": grads["w"].at[1, 2].set(jnp.nan)}
  zeroed = {"w": grads["w"].at[1, 2].set(0.0)}
  update = jax.jit(opt.update)
  u_nan, s_nan = update(poisoned, opt.init(params), params)
  u_zero, s_zero = update(zeroed, opt.init(params), params)
  assert _equal((u_nan, s_nan), (u_zero, s_zero))
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves((u_nan, s_nan)))
  u_nan, s_nan = update(grads, s_nan, params)  # and the next, finite step stays finite
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves((u_nan, s_nan)))


# ---------------------------------------------------------------------------------------
# baselines.compare: damaged outdirs and checkpoints name the file.
# ---------------------------------------------------------------------------------------


def _compare_error(config, capsys):
  with pytest.raises(SystemExit) as info:
    compare.compare(config)
  assert info.value.code == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1, err
  return err


def test_compare_refuses_damaged_outdirs_and_checkpoints(reference, tmp_path, capsys):
  config = suite_smoke.get_config()
  blocker = tmp_path / "a_file"
  blocker.write_text("x")
  config.outdir = str(blocker)
  assert f"{blocker} is a file" in _compare_error(config, capsys)

  out = tmp_path / "out"
  out.mkdir()
  (out / "config.json").write_text("garbage")
  config.outdir = str(out)
  assert f"{out / 'config.json'} is damaged" in _compare_error(config, capsys)

  os.remove(out / "config.json")
  suite = compare.Suite.from_config(config)
  suite.write_config()
  cell = suite.cell_path(*next((t, o.label) for t, o in suite.cells()))
  os.makedirs(os.path.dirname(cell))
  with open(cell, "w") as f:
    f.write('{"task": "quadratic_10d", "train_loss": [1.0, 0.')
  assert f"{cell}, line 1 is damaged" in _compare_error(config, capsys)

  damaged = tmp_path / "ckpt"
  shutil.copytree(reference[0] / "checkpoints" / "6", damaged)
  _record(damaged)
  config.outdir = str(tmp_path / "out2")
  config.learned = (str(damaged),)
  err = _compare_error(config, capsys)
  assert f"{damaged / 'lopt'}: the record cannot be read" in err
  assert not (tmp_path / "out2").exists()
