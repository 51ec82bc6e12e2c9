"""The held-out split: tasks and family architectures for meta-training vs meta-testing.

Meta-test tasks differ from every meta-training task in at least one of dataset, architecture
and width (see WORKSPACE.md, "Held-out split"):

- datasets: meta-training sees digits, the MNIST subset and Shakespeare; Fashion-MNIST, the
  Bible and the Jargon File are meta-test only;
- architectures: meta-training sees MLPs (depth <= 2), logistic regression, 1-layer
  transformers/LSTMs, quadratics and 2-d Rosenbrock; CNNs, autoencoders, 3-layer MLPs,
  2-layer transformers and 10-d Rosenbrock are meta-test only;
- widths: meta-training MLP/LM widths are <= 32; meta-test widths are 64 to 1024.

META_VALID is for choosing between meta-training recipes: tasks of the meta-training kinds
(datasets digits, the MNIST subset and Shakespeare; MLPs of depth <= 2, logistic regression,
1-layer transformers and LSTMs; quadratics and Rosenbrock), each at a width (40, 48),
activation (silu, tanh at depth 2), resolution (a 16x16 digits logistic regression) or
dimension (30-d and 40-d quadratics, 4-d and 6-d Rosenbrock) no meta-training or meta-test
task has; five more (2026-12-08) at widths 96 to 256, since width transfer is what the first
twelve missed (the rule they chose slowed a width-96 transformer).
Recipes are ranked there; META_TEST is only reported, never tuned to.

`sample_family(name, key, split=...)` draws a family's architecture (everything that sets
parameter shapes) from that split's space; `family.sample(key)` then draws members.
"""

from __future__ import annotations

from typing import Any

import jax

from tasks import zoo
from tasks.base import TaskFamily

META_TRAIN: tuple[str, ...] = (
  "quadratic_10d",
  "quadratic_10d_illcond",
  "quadratic_10d_noisy",
  "rosenbrock_2d",
  "digits_logreg",
  "digits_mlp_32",
  "digits_mlp_32_tanh",
  "digits_mlp_32x32_16px",
  "digits_mlp_32x32_gelu",
  "mnist_subset_mlp_32",
  "mnist_subset_mlp_16x16_gelu",
  "shakespeare_transformer",
  "shakespeare_lstm",
)
META_VALID: tuple[str, ...] = (
  "quadratic_30d_illcond_noisy",
  "rosenbrock_4d",
  "digits_mlp_48_silu",
  "mnist_subset_mlp_48x48_gelu",
  "mnist_subset_logreg",
  "shakespeare_transformer_w48",
  "quadratic_40d_noisy",
  "rosenbrock_6d",
  "digits_logreg_16px",
  "digits_mlp_48x48_tanh",
  "mnist_subset_mlp_40",
  "shakespeare_lstm_w48",
  "mnist_subset_mlp_192",
  "digits_mlp_96x96_gelu",
  "mnist_subset_mlp_256x256",
  "shakespeare_transformer_w96",
  "shakespeare_lstm_w96",
)
META_TEST: tuple[str, ...] = (
  "quadratic_100d_illcond_noisy",
  "rosenbrock_10d",
  "digits_mlp_64x64",
  "digits_mlp_128x128x128_gelu",
  "digits_cnn",
  "digits_autoencoder",
  "mnist_subset_cnn",
  "fashion_mnist_logreg_16px",
  "fashion_mnist_mlp_128",
  "fashion_mnist_mlp_1024_16px",
  "fashion_mnist_cnn",
  "fashion_mnist_autoencoder_16px",
  "bible_transformer_chars",
  "bible_lstm_chars",
  "jargon_lstm",
)

# Per family and split: each architecture field and its choices (drawn uniformly).
SPACES: dict[str, dict[str, dict[str, tuple[Any, ...]]]] = {
  "image_mlp": {
    "meta_train": {
      "dataset": ("digits", "mnist_subset"),
      "resolution": (8, 16),
      "width": (16, 32),
      "depth": (1, 2),
      "activation": ("relu", "tanh", "gelu"),
      "batch_size": (32, 64, 128),
    },
    "meta_test": {
      "dataset": ("fashion_mnist",),
      "resolution": (16, 28),
      "width": (64, 128),
      "depth": (2, 3),
      "activation": ("relu", "silu"),
      "batch_size": (64, 128),
    },
  },
  "char_lm": {
    "meta_train": {
      "corpus": ("shakespeare",),
      "tokens": ("bytes", "chars"),
      "model": ("transformer", "lstm"),
      "width": (16, 32),
      "depth": (1,),
      "seq_len": (16, 32),
      "batch_size": (8, 16),
    },
    "meta_test": {
      "corpus": ("bible", "jargon"),
      "tokens": ("bytes", "chars"),
      "model": ("transformer", "lstm"),
      "width": (64,),
      "depth": (2,),
      "seq_len": (32, 64),
      "batch_size": (16,),
    },
  },
  "quadratic": {
    "meta_train": {"dim": (10, 20)},
    "meta_test": {"dim": (50, 100)},
  },
}


def split_of(task_name: str) -> str:
  """`meta_train`, `meta_valid` or `meta_test` for zoo task `task_name`."""
  if task_name in META_TRAIN:
    return "meta_train"
  if task_name in META_VALID:
    return "meta_valid"
  if task_name in META_TEST:
    return "meta_test"
  raise ValueError(f"Task {task_name!r} is in neither split.")


def sample_architecture(name: str, key: jax.Array, split: str = "meta_train") -> dict[str, Any]:
  """Architecture fields of family `name` drawn from `split`'s space (host-side choice)."""
  if name not in SPACES:
    raise ValueError(f"No architecture space for family {name!r}; have {sorted(SPACES)}.")
  if split not in ("meta_train", "meta_test"):
    raise ValueError(f"split must be 'meta_train' or 'meta_test', got {split!r}.")
  space = SPACES[name][split]
  keys = jax.random.split(key, len(space))
  return {
    field: choices[int(jax.random.randint(k, (), 0, len(choices)))]
    for (field, choices), k in zip(space.items(), keys, strict=True)
  }


def sample_family(
  name: str, key: jax.Array, split: str = "meta_train", **kwargs: Any
) -> TaskFamily:
  """A family `name` whose architecture is drawn from `split`'s space; `kwargs` (e.g.
  `reparam=(-1, 1)`, `init_scale=...`) are passed through."""
  arch = sample_architecture(name, key, split)
  if name == "image_mlp":
    width, depth = arch.pop("width"), arch.pop("depth")
    arch["hidden"] = (width,) * depth
  return zoo.get_family(name, **arch, **kwargs)
