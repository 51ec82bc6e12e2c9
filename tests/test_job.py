"""The meta-training job: exact resume, the meta-train/export identity, bad input, the demo."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import optax
import pytest

import learned_opt
from configs import quickstart
from meta_train import main as program
from meta_train.unroll import InnerState

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICKSTART = os.path.join(ROOT, "configs", "quickstart.py")


def tiny_config(num_steps=6):
  config = quickstart.get_config()
  config.num_steps = num_steps
  config.checkpoint_every = 3
  config.log_every = 1
  config.lopt.hidden_sizes = (8,)
  config.estimator.num_pairs = 2
  config.estimator.trunc_length = 3
  config.estimator.horizon_truncations = (1, 3)
  config.tasks.digits_mlp.hidden = (8,)
  config.tasks.digits_mlp.batch_size = 16
  return config


def quadratic_only(config):
  """`config` meta-training the quadratic family alone: one estimator to compile, for tests
  whose point is the job rather than the populations."""
  del config.tasks["digits_mlp"]
  return config


def _leaves_equal(a, b):
  return all(
    np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
  )


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
  """One uninterrupted run of 12 meta-steps (checkpoints at 3, 6, 9, 12), shared by the tests
  that compare against it or read its workdir: (workdir, final state)."""
  workdir = tmp_path_factory.mktemp("whole") / "w"
  return workdir, program.train(tiny_config(12), str(workdir))


def test_resume_is_bitwise_exact(whole, tmp_path):
  _, final = whole
  half = program.train(tiny_config(6), str(tmp_path))
  assert int(half.step) == 6
  assert os.path.isdir(tmp_path / "checkpoints" / "6")
  resumed = program.train(tiny_config(12), str(tmp_path))
  assert int(resumed.step) == 12
  assert _leaves_equal(final.theta, resumed.theta)
  assert _leaves_equal(final.unroll, resumed.unroll)
  assert not _leaves_equal(half.theta, resumed.theta)
  _, loaded = learned_opt.load_theta(tmp_path)
  assert _leaves_equal(final.theta, loaded)
  # One metrics line per step, even across the restart.
  steps = [line.split(",")[0] for line in open(tmp_path / "metrics.jsonl")]
  assert len(steps) == len(set(steps)) == 12


# Hidden width 4 takes the rule's elementwise (unrolled) path, 8 its matrix-product path.
@pytest.mark.parametrize("width", [4, 8])
def test_update_inside_meta_training_equals_loaded_optimizer(whole, tmp_path, width):
  config = tiny_config(3)
  config.lopt.hidden_sizes = (width,)
  trainer = program.build_trainer(config)
  if width == 8:  # the shared run's width
    workdir, state = whole
  else:  # the initial state, theta moved off init(PRNGKey(0)): load must read it, not init
    state = trainer.init(jax.random.PRNGKey(0))
    leaves, tree = jax.tree.flatten(state.theta)
    keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
    theta = jax.tree.unflatten(
      tree, [x + 0.1 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys, strict=True)]
    )
    state = state._replace(theta=theta)
    workdir = learned_opt.save(tmp_path / "lopt", trainer.lopt, theta)
  unroller = trainer.estimators["digits_mlp"].unroller
  # One inner step exactly as meta-training takes it, on the positive particle of pair 0.
  member = jax.tree.map(lambda x: x[0, 0], state.unroll["digits_mlp"].inner)
  stepper = unroller.__class__(
    unroller.lopt, unroller.family, trunc_length=1, horizon_truncations=(1, 1)
  )
  samplers = stepper.samplers()
  key = jax.random.PRNGKey(7)
  after, _ = jax.jit(stepper.truncation)(state.theta, member, key, samplers)

  # The same step by a user with learned_opt.load, outside any meta-training code.
  opt = learned_opt.load(workdir)
  task = unroller.family.task(member.cfg)
  k_batch, k_loss, _ = jax.random.split(jax.random.split(key, 1)[0], 3)
  batch = samplers["train"].sample(k_batch)

  @jax.jit
  def user_step(params, opt_state):
    loss, grads = jax.value_and_grad(task.loss)(params, k_loss, batch)
    updates, opt_state = opt.update(grads, opt_state, params, value=loss)
    return optax.apply_updates(params, updates), opt_state

  params, opt_state = user_step(member.params, member.opt_state)
  assert isinstance(after, InnerState)
  assert _leaves_equal(after.params, params)
  assert _leaves_equal(after.opt_state, opt_state)


def _run(args, **kwargs):
  return subprocess.run(
    [sys.executable, "-m", "meta_train.main", *args],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
    **kwargs,
  )


def _snapshot(directory):
  """Path -> content hash of every file under `directory`."""
  out = {}
  for root, _, files in os.walk(directory):
    for f in files:
      path = os.path.join(root, f)
      out[os.path.relpath(path, directory)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
  return out


def test_unknown_config_key_exits_2_with_one_message(tmp_path):
  """The bad-config check that needs the process: absl's flag parsing. Bad values that pass
  it are refused by `setup` (below, in-process), which `main` turns into exit status 2 (as
  test_checkpoint_of_another_architecture_... and tests/test_faults.py check)."""
  args = [f"--config={QUICKSTART}", f"--workdir={tmp_path / 'w'}", "--config.tasks.quadratc.dim=3"]
  result = _run(args)
  assert result.returncode == 2, result.stderr
  assert "quadratc" in result.stderr
  assert "Traceback" not in result.stderr
  assert not os.path.exists(tmp_path / "w")


@pytest.mark.parametrize(
  ("key", "value", "message"),
  [
    ("tasks", {"quadratc": {}}, "Did you mean 'quadratic'"),
    ("lopt.architecture", "mpl", "Did you mean 'mlp'"),
    ("estimator.name", "pse", "Did you mean 'pes'"),
    ("meta_opt.combine_families", "unit", "combine_families must be one of"),
  ],
)
def test_bad_config_is_refused_before_anything_is_written(tmp_path, key, value, message):
  config = quickstart.get_config()
  if "." in key:
    block, name = key.split(".")
    config[block][name] = value
  else:
    config[key] = value
  with pytest.raises(ValueError, match=message):
    program.setup(config, str(tmp_path / "w"))
  assert not os.path.exists(tmp_path / "w")


@pytest.mark.parametrize(
  ("combine", "expected"),
  [("mean", [1.5, 7.0]), ("unit_norm", [0.3, 0.9])],
)
def test_families_meta_gradients_are_joined_as_configured(combine, expected):
  """Two families' estimates (3, 4) and (0, 10): their mean, or the mean of (0.6, 0.8) and
  (0, 1); each family's own norm is returned for the log."""
  trainer = program.MetaTrainer(None, {"a": None, "b": None}, optax.sgd(1.0), None, combine)
  theta = {"w": np.zeros(2, np.float32)}
  grads = [{"w": np.array([3.0, 4.0], np.float32)}, {"w": np.array([0.0, 10.0], np.float32)}]
  new_theta, _, metrics = trainer._apply(theta, optax.sgd(1.0).init(theta), grads)
  np.testing.assert_allclose(new_theta["w"], -np.array(expected), rtol=1e-6)
  np.testing.assert_allclose(metrics["family_grad_norms"], [5.0, 10.0], rtol=1e-6)


def test_unwritable_workdir_is_refused(tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("not a directory")
  with pytest.raises(ValueError, match="Cannot write to workdir"):
    program.setup(quickstart.get_config(), str(blocker / "run"))
  assert blocker.read_text() == "not a directory"


def test_checkpoint_of_another_architecture_exits_2_and_keeps_the_workdir(tmp_path):
  config = quadratic_only(tiny_config(3))
  config.lopt = {"architecture": "learned_sgd", "initial_learning_rate": 0.01}
  program.train(config, str(tmp_path))
  before = _snapshot(tmp_path)
  result = _run([f"--config={QUICKSTART}", f"--workdir={tmp_path}"])
  assert result.returncode == 2, result.stderr
  assert "checkpoint of another learned optimizer" in result.stderr
  assert "Traceback" not in result.stderr
  assert _snapshot(tmp_path) == before


def test_demo_prints_the_table_and_writes_the_plot(tmp_path):
  result = subprocess.run(
    [
      sys.executable,
      "-m",
      "meta_train.demo",
      f"--workdir={tmp_path}",
      f"--config={os.path.join(ROOT, 'configs', 'demo_metatrain.py')}",
      # tiny_config's rule, estimator and digits MLPs: its compiled programs serve again.
      "--config.num_steps=4",
      "--config.lopt.hidden_sizes=(8,)",
      "--config.estimator.num_pairs=2",
      "--config.estimator.trunc_length=3",
      "--config.estimator.horizon_truncations=(1,3)",
      "--config.tasks.digits_mlp.hidden=(8,)",
      "--config.tasks.digits_mlp.batch_size=16",
      "--config.demo.num_steps=30",
      "--config.demo.seeds=(0,)",
      "--config.demo.adam_learning_rates=(0.01,)",
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert result.returncode == 0, result.stderr[-3000:]
  assert "learned (mlp)" in result.stdout and "adam lr=0.01" in result.stdout
  assert os.path.getsize(tmp_path / "demo_curves.png") > 10_000
  assert os.path.exists(tmp_path / "demo_results.json")


def test_sharded_population_gives_the_single_device_meta_gradient():
  """Four host devices in a subprocess (XLA_FLAGS must be set before jax starts).

  Tolerance: TBPTT 1e-6 relative (only the order of the final reduction differs). PES and
  full ES divide loss differences by 2 std^2 = 2e-4, so float32 rounding differences of ~1e-7
  in the inner losses, from XLA partitioning the computation differently, become
  relative differences of ~1e-3 in the estimate: 1e-2 relative.
  """
  flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4"
  env = {**os.environ, "XLA_FLAGS": flags.strip()}
  result = subprocess.run(
    [sys.executable, os.path.join(ROOT, "tests", "sharded_meta_step.py")],
    cwd=ROOT,
    env=env,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(result.stdout.strip().splitlines()[-1])
  assert out["devices"] == 4
  for estimator, tol in (("tbptt", 1e-6), ("pes", 1e-2), ("full_es", 1e-2)):
    if estimator != "full_es":  # full ES keeps no population between calls
      assert out[f"{estimator}_devices_holding_population_True"] == 4
      assert out[f"{estimator}_devices_holding_population_False"] == 1
    # Every member's estimate finite (TBPTT through a feature of blank pixels' zero gradients
    # was NaN, hence masked: a zero meta-gradient, equal on both layouts), and not zero.
    assert out[f"{estimator}_num_nonfinite"] == 0, out
    assert out[f"{estimator}_grad_norm"] > 0, out
    assert out[f"{estimator}_relative_grad_diff"] < tol, out
    # Each device computes its share of the members (1/4), not all of them.
    assert out[f"{estimator}_flops_per_device_ratio"] < 0.4, out


def _tiny_overrides(num_steps):
  return [
    f"--config.num_steps={num_steps}",
    "--config.checkpoint_every=1",
    "--config.log_every=1",
    "--config.lopt.hidden_sizes=(8,)",
    "--config.estimator.num_pairs=2",
    "--config.estimator.trunc_length=3",
    "--config.estimator.horizon_truncations=(1,3)",
    "--config.tasks.digits_mlp.hidden=(8,)",
    "--config.tasks.digits_mlp.batch_size=16",
  ]


def test_sigkill_at_three_points_then_resume_is_bitwise_exact(whole, tmp_path):
  num_steps = 12  # the shared run's
  workdir = tmp_path / "killed"
  metrics = workdir / "metrics.jsonl"
  args = [f"--config={QUICKSTART}", f"--workdir={workdir}", *_tiny_overrides(num_steps)]
  kills = []
  for kill_after in (2, 5, 8):  # lines in metrics.jsonl, i.e. steps logged in this workdir
    proc = subprocess.Popen(
      [sys.executable, "-m", "meta_train.main", *args],
      cwd=ROOT,
      stdout=subprocess.DEVNULL,
      stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
      if metrics.exists() and len(metrics.read_text().splitlines()) >= kill_after:
        proc.send_signal(signal.SIGKILL)
        break
      time.sleep(0.05)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    kills.append(len(metrics.read_text().splitlines()))
  result = _run(args)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "Resuming from step" in result.stdout
  _, theta = learned_opt.load_theta(workdir)
  assert _leaves_equal(whole[1].theta, theta), kills
  steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
  assert steps == list(range(1, num_steps + 1))


def test_sigterm_checkpoints_and_exits_cleanly(tmp_path):
  args = [f"--config={QUICKSTART}", f"--workdir={tmp_path}", *_tiny_overrides(10_000)]
  proc = subprocess.Popen(
    [sys.executable, "-m", "meta_train.main", *args],
    cwd=ROOT,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )
  metrics = tmp_path / "metrics.jsonl"
  deadline = time.monotonic() + 300
  while time.monotonic() < deadline and not (
    metrics.exists() and len(metrics.read_text().splitlines()) >= 3
  ):
    time.sleep(0.05)
  proc.send_signal(signal.SIGTERM)
  stdout, stderr = proc.communicate(timeout=300)
  assert proc.returncode == 0, stderr[-3000:]
  assert "SIGTERM: checkpointed step" in stdout
  last = json.loads(metrics.read_text().splitlines()[-1])["step"]
  assert os.path.isdir(tmp_path / "checkpoints" / str(last))


def test_periodic_evaluation_on_heldout_tasks_is_logged(tmp_path):
  config = quadratic_only(tiny_config(4))
  config.eval.every = 2
  config.eval.num_steps = 10
  config.eval.tasks = ("digits_mlp_32",)
  program.train(config, str(tmp_path))
  lines = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
  evaluated = [m["step"] for m in lines if "eval/digits_mlp_32/final_train_loss" in m]
  assert evaluated == [2, 4]
  for m in lines:
    if m["step"] in evaluated:
      assert all(np.isfinite(m[f"eval/digits_mlp_32/{k}"]) for k in ("valid_loss", "test_loss"))
  config.eval.tasks = ("digits_mlp_23",)
  with pytest.raises(ValueError, match="Did you mean 'digits_mlp_32'"):
    program.setup(config, str(tmp_path / "other"))


def test_max_wall_minutes_stops_checkpoints_and_resumes(tmp_path):
  config = quadratic_only(tiny_config(1000))
  config.checkpoint_every = 1000
  config.max_wall_minutes = 1e-6  # 60 microseconds: over after the first meta-step
  state = program.train(config, str(tmp_path))
  assert int(state.step) == 1
  assert os.path.isdir(tmp_path / "checkpoints" / "1")
  config.max_wall_minutes = 0.0  # no limit
  config.num_steps = 3
  assert int(program.train(config, str(tmp_path)).step) == 3
  steps = [json.loads(line)["step"] for line in open(tmp_path / "metrics.jsonl")]
  assert steps == [1, 2, 3]


def test_unreadable_newest_checkpoint_falls_back_to_the_previous_one(whole, tmp_path):
  workdir = tmp_path / "w"
  shutil.copytree(whole[0], workdir)
  newest = workdir / "checkpoints" / "12" / "train_state"
  for name in ("_METADATA", "manifest.ocdbt"):
    (newest / name).unlink()  # a write cut short
  run = program.setup(tiny_config(12), str(workdir))
  assert int(run.state.step) == 9
  run.checkpoints.close()
