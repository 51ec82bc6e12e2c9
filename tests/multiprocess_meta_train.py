"""One process of a multi-process meta-training job on this machine (`tests/test_multiprocess.py`).

    python tests/multiprocess_meta_train.py PROCESS_ID NUM_PROCESSES PORT WORKDIR NUM_STEPS

Joins the job through `meta_train.main.initialize_distributed` (gloo CPU collectives, a
coordinator on localhost:PORT, 5 s heartbeats) unless NUM_PROCESSES is 1, then meta-trains
a tiny PES recipe (quadratics, 2 antithetic pairs: one per process) with `meta_train.main`'s
set-up and loop. Prints `joined <devices>` once the job has formed, `done` at the end.
"""

import sys

import jax

from configs import quickstart
from meta_train import main as program


def tiny_config(num_steps: int):
  config = quickstart.get_config()
  config.num_steps = num_steps
  config.checkpoint_every = 2
  config.log_every = 1
  config.lopt.hidden_sizes = (8,)
  del config.tasks["digits_mlp"]
  config.estimator.num_pairs = 2
  config.estimator.trunc_length = 3
  config.estimator.horizon_truncations = (1, 3)
  config.eval.every = 0
  return config


def main(process_id: int, num_processes: int, port: int, workdir: str, num_steps: int):
  if num_processes > 1:
    program.initialize_distributed(
      coordinator_address=f"localhost:{port}",
      num_processes=num_processes,
      process_id=process_id,
      heartbeat_timeout_seconds=5,
      initialization_timeout=60,
    )
  print("joined", len(jax.devices()), flush=True)
  program.train(tiny_config(num_steps), workdir)
  print("done", flush=True)


if __name__ == "__main__":
  pid, n, port, workdir, steps = sys.argv[1:]
  main(int(pid), int(n), int(port), workdir, int(steps))
