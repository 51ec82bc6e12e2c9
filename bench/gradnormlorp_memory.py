"""Benchmark: GradNormLoRP's bytes per model parameter against full AdamW.

    .venv/bin/python -m bench.gradnormlorp_memory [--widths 128,1024] [--ranks 8,32]

A digits MLP with two hidden layers `width x width`, trained in full by AdamW, and as
`tasks.GradNormLoRP(task, rank=r)` (W = m (W0 + I J) / ||W0 + I J||_c, W0 frozen) by the
registry's `gradnormlorp` (GaLore on I and J at projection rank r / 2, Adam on m and biases).
Per model parameter (float32): trainable bytes (the gradient has as many), the optimizer
state (`baselines.state_bytes`, shapes only), and everything stored for training: frozen W0
+ trainable + gradient + state. Nothing is trained; the numbers are exact for these shapes.
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

import baselines
import tasks


def _bytes(tree) -> int:
  return sum(int(np.prod(x.shape)) * x.dtype.itemsize for x in jax.tree.leaves(tree))


def rows(widths, ranks):
  out = []
  for width in widths:
    task = tasks.MLPClassifier(hidden=(width, width), name=f"digits_mlp_{width}x{width}")
    params = jax.eval_shape(task.init, jax.random.PRNGKey(0))
    n = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))
    full = _bytes(params)
    adamw = baselines.state_bytes(baselines.get("adamw"), params)
    out.append((width, "adamw", full / n, adamw / n, (2 * full + adamw) / n))
    for rank in ranks:
      wrapped = tasks.GradNormLoRP(task, rank=rank)
      trainable = jax.eval_shape(wrapped.init, jax.random.PRNGKey(0))
      frozen = _bytes({k: v["w"] for k, v in params.items()})
      opt = baselines.get("gradnormlorp", rank=max(rank // 2, 1))
      state = baselines.state_bytes(opt, trainable)
      t = _bytes(trainable)
      out.append((width, f"gradnormlorp r={rank}", t / n, state / n, (frozen + 2 * t + state) / n))
  return out


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--widths", default="128,1024")
  parser.add_argument("--ranks", default="8,32")
  args = parser.parse_args(argv)
  try:
    widths = [int(w) for w in args.widths.split(",")]
    ranks = [int(r) for r in args.ranks.split(",")]
  except ValueError:
    parser.error("--widths and --ranks take comma-separated positive integers")
  if min(widths + ranks) < 1:
    parser.error("--widths and --ranks take comma-separated positive integers")
  print("| width | method | trainable B/param | optimizer state B/param | stored B/param |")
  print("|---|---|---|---|---|")
  for width, name, t, s, total in rows(widths, ranks):
    print(f"| {width} | {name} | {t:.3f} | {s:.3f} | {total:.3f} |")


if __name__ == "__main__":
  main()
