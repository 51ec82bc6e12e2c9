"""Several hosts for real: two processes on this machine meta-train one sharded population.

Each process runs `tests/multiprocess_meta_train.py` (`jax.distributed` on a localhost
coordinator, gloo CPU collectives, one CPU device each): the population's 2 antithetic pairs
are split one per process, and XLA's all-reduce averages their meta-gradients.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import learned_opt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tests", "multiprocess_meta_train.py")
TIMEOUT = 240


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _start(process_id, num_processes, port, workdir, num_steps):
  env = {**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"}
  flags = env.get("XLA_FLAGS", "").split()  # one CPU device per process; other flags kept
  env["XLA_FLAGS"] = " ".join(f for f in flags if "device_count" not in f)
  return subprocess.Popen(
    [sys.executable, SCRIPT, *map(str, (process_id, num_processes, port, workdir, num_steps))],
    cwd=ROOT,
    env=env,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )


def _finish(process):
  try:
    out, err = process.communicate(timeout=TIMEOUT)
  except subprocess.TimeoutExpired:
    process.kill()
    out, err = process.communicate()
    pytest.fail(f"a process hung:\n{err[-3000:]}")
  return process.returncode, out, err


def test_two_processes_meta_train_one_population_as_one_process_does(tmp_path):
  """Same theta as one process (tolerance: the mean over the pairs is an all-reduce across
  processes instead of a local sum, 1e-5 relative); one metrics line per step, written by
  process 0 only; orbax's multi-process checkpoints (each process its own array shards)."""
  port, two, one = _free_port(), str(tmp_path / "two"), str(tmp_path / "one")
  processes = [_start(i, 2, port, two, 3) for i in range(2)] + [_start(0, 1, 0, one, 3)]
  results = [_finish(p) for p in processes]
  for code, out, err in results:
    assert code == 0 and "done" in out, err[-3000:]
  assert "joined 2" in results[0][1] and "joined 1" in results[2][1]

  _, theta_two = learned_opt.load_theta(two)
  _, theta_one = learned_opt.load_theta(one)
  for a, b in zip(jax.tree.leaves(theta_two), jax.tree.leaves(theta_one), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)

  with open(os.path.join(two, "metrics.jsonl")) as f:
    assert [line.split(",")[0] for line in f] == [f'{{"step": {s}' for s in (1, 2, 3)]
  assert len(os.listdir(os.path.join(two, "tb"))) == 1
  for step in ("2", "3"):
    state_dir = os.path.join(two, "checkpoints", step, "train_state")
    assert {"ocdbt.process_0", "ocdbt.process_1"} <= set(os.listdir(state_dir))


def test_a_killed_process_ends_the_other_with_a_message(tmp_path):
  """SIGKILL one process mid-job: the other stops within the heartbeat timeout (5 s) with
  an error naming the lost task, instead of waiting in a collective forever."""
  port, workdir = _free_port(), str(tmp_path / "w")
  survivor, victim = (_start(i, 2, port, workdir, 10_000) for i in range(2))
  line = victim.stdout.readline()  # the job has formed
  assert line.startswith("joined"), victim.stderr.read()[-3000:]
  victim.send_signal(signal.SIGKILL)
  victim.wait()
  start = time.monotonic()
  code, _, err = _finish(survivor)
  assert code != 0
  assert time.monotonic() - start < 60
  assert "task" in err.lower(), err[-3000:]
