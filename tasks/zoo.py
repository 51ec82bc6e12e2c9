"""Named tasks and task families: `tasks.get(name)`, `tasks.get_family(name, **kwargs)`.

Every zoo task has a tiny default size (tests train each one) and a reference Adam learning
rate (`adam_lr(name)`, used by tests and `python -m bench.task_steps`). Which tasks are for
meta-training, meta-validation and meta-testing is `tasks.heldout`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Callable
from typing import Any

from tasks.base import Task, TaskFamily
from tasks.language import LSTMLM, LMFamily, TransformerLM
from tasks.mlp_classifier import MLPClassifier, MLPClassifierFamily
from tasks.quadratic import Quadratic, QuadraticFamily
from tasks.rosenbrock import Rosenbrock, RosenbrockFamily
from tasks.vision import CNNClassifier, MLPAutoencoder


@dataclasses.dataclass(frozen=True)
class _Entry:
  factory: Callable[..., Task]
  kwargs: dict[str, Any]
  adam_lr: float = 1e-2


def _e(factory, adam_lr=1e-2, **kwargs) -> _Entry:
  return _Entry(factory, kwargs, adam_lr)


_DIGITS = {"dataset": "digits"}
_MNIST = {"dataset": "mnist_subset"}
_FASHION = {"dataset": "fashion_mnist"}

_ENTRIES: dict[str, _Entry] = {
  # Synthetic.
  "quadratic_10d": _e(Quadratic, 3e-2, dim=10),
  "quadratic_10d_illcond": _e(Quadratic, 3e-2, dim=10, log10_condition=3.0),
  "quadratic_10d_noisy": _e(Quadratic, 3e-2, dim=10, noise=0.5),
  "quadratic_100d_illcond_noisy": _e(Quadratic, 3e-2, dim=100, log10_condition=4.0, noise=0.3),
  "rosenbrock_2d": _e(Rosenbrock, 3e-2, dim=2),
  "rosenbrock_10d": _e(Rosenbrock, 3e-2, dim=10),
  "quadratic_30d_illcond_noisy": _e(Quadratic, 3e-2, dim=30, log10_condition=3.0, noise=0.3),
  "rosenbrock_4d": _e(Rosenbrock, 3e-2, dim=4),
  # Image classifiers and an autoencoder.
  "digits_logreg": _e(MLPClassifier, 3e-2, **_DIGITS, hidden=()),
  "digits_mlp_32": _e(MLPClassifier, 1e-2, **_DIGITS, hidden=(32,)),
  "digits_mlp_32_tanh": _e(MLPClassifier, 1e-2, **_DIGITS, hidden=(32,), activation="tanh"),
  "digits_mlp_32x32_16px": _e(MLPClassifier, 1e-2, **_DIGITS, hidden=(32, 32), resolution=16),
  "digits_mlp_32x32_gelu": _e(MLPClassifier, 1e-2, **_DIGITS, hidden=(32, 32), activation="gelu"),
  "digits_mlp_64x64": _e(MLPClassifier, 1e-2, **_DIGITS, hidden=(64, 64)),
  "digits_mlp_128x128x128_gelu": _e(
    MLPClassifier, 3e-3, **_DIGITS, hidden=(128, 128, 128), activation="gelu"
  ),
  "digits_cnn": _e(CNNClassifier, 1e-2, **_DIGITS, channels=(16, 32), resolution=16),
  "digits_autoencoder": _e(MLPAutoencoder, 1e-2, **_DIGITS, hidden=(32, 8)),
  "mnist_subset_mlp_32": _e(MLPClassifier, 1e-2, **_MNIST, hidden=(32,), resolution=16),
  "mnist_subset_mlp_16x16_gelu": _e(
    MLPClassifier, 1e-2, **_MNIST, hidden=(16, 16), activation="gelu", resolution=16
  ),
  "mnist_subset_cnn": _e(CNNClassifier, 1e-2, **_MNIST, channels=(8, 16), resolution=16),
  "fashion_mnist_logreg_16px": _e(MLPClassifier, 1e-2, **_FASHION, hidden=(), resolution=16),
  "fashion_mnist_mlp_128": _e(MLPClassifier, 3e-3, **_FASHION, hidden=(128,)),
  # 32x the widest meta-training MLP: width generalization of learned rules.
  "fashion_mnist_mlp_1024_16px": _e(MLPClassifier, 1e-3, **_FASHION, hidden=(1024,), resolution=16),
  "fashion_mnist_cnn": _e(CNNClassifier, 1e-2, **_FASHION, channels=(8, 16), resolution=16),
  "fashion_mnist_autoencoder_16px": _e(
    MLPAutoencoder, 1e-2, **_FASHION, hidden=(64, 16), resolution=16
  ),
  # Meta-validation (tasks.heldout.META_VALID): unseen widths/activations of meta-train kinds.
  "digits_mlp_48_silu": _e(MLPClassifier, 1e-2, **_DIGITS, hidden=(48,), activation="silu"),
  "mnist_subset_mlp_48x48_gelu": _e(
    MLPClassifier, 1e-2, **_MNIST, hidden=(48, 48), activation="gelu", resolution=16
  ),
  "mnist_subset_logreg": _e(MLPClassifier, 1e-2, **_MNIST, hidden=(), resolution=16),
  "shakespeare_transformer_w48": _e(TransformerLM, 3e-3, corpus="shakespeare", width=48),
  "quadratic_40d_noisy": _e(Quadratic, 3e-2, dim=40, log10_condition=2.0, noise=0.5),
  "rosenbrock_6d": _e(Rosenbrock, 3e-2, dim=6),
  "digits_logreg_16px": _e(MLPClassifier, 3e-2, **_DIGITS, hidden=(), resolution=16),
  "digits_mlp_48x48_tanh": _e(MLPClassifier, 1e-2, **_DIGITS, hidden=(48, 48), activation="tanh"),
  "mnist_subset_mlp_40": _e(MLPClassifier, 1e-2, **_MNIST, hidden=(40,), resolution=16),
  "shakespeare_lstm_w48": _e(LSTMLM, 1e-2, corpus="shakespeare", width=48),
  # Meta-validation at widths 96-256 (no other split has them): width transfer, chosen on.
  "mnist_subset_mlp_192": _e(MLPClassifier, 1e-2, **_MNIST, hidden=(192,), resolution=16),
  "digits_mlp_96x96_gelu": _e(MLPClassifier, 1e-2, **_DIGITS, hidden=(96, 96), activation="gelu"),
  "mnist_subset_mlp_256x256": _e(MLPClassifier, 1e-2, **_MNIST, hidden=(256, 256), resolution=16),
  "shakespeare_transformer_w96": _e(TransformerLM, 3e-3, corpus="shakespeare", width=96),
  "shakespeare_lstm_w96": _e(LSTMLM, 1e-2, corpus="shakespeare", width=96),
  # Character language models.
  "shakespeare_transformer": _e(TransformerLM, 3e-3, corpus="shakespeare"),
  "shakespeare_lstm": _e(LSTMLM, 1e-2, corpus="shakespeare"),
  "bible_transformer_chars": _e(TransformerLM, 3e-3, corpus="bible", tokens="chars", depth=2),
  "bible_lstm_chars": _e(LSTMLM, 1e-2, corpus="bible", tokens="chars", width=64),
  "jargon_lstm": _e(LSTMLM, 1e-2, corpus="jargon"),
}

_FAMILIES: dict[str, Callable[..., TaskFamily]] = {
  "quadratic": QuadraticFamily,
  "rosenbrock": RosenbrockFamily,
  "digits_mlp": MLPClassifierFamily,
  "image_mlp": functools.partial(MLPClassifierFamily, name="image_mlp"),
  "char_lm": LMFamily,
}


def _lookup(kind: str, name: str, table: dict[str, Any]) -> Any:
  if name in table:
    return table[name]
  close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
  hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
  raise ValueError(f"Unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(table))}.")


def names() -> list[str]:
  """Names of the task zoo."""
  return sorted(_ENTRIES)


def get(name: str) -> Task:
  """The zoo task called `name`; unknown names fail with the closest matches."""
  entry = _lookup("task", name, _ENTRIES)
  return entry.factory(name=name, **entry.kwargs)


def adam_lr(name: str) -> float:
  """A learning rate with which Adam trains zoo task `name` well in a few hundred steps."""
  return _lookup("task", name, _ENTRIES).adam_lr


def datasets_of(name: str) -> tuple[str, ...]:
  """The datasets zoo task `name` reads (empty for synthetic tasks)."""
  kwargs = _lookup("task", name, _ENTRIES).kwargs
  return tuple(kwargs[k] for k in ("dataset", "corpus") if k in kwargs)


def family_names() -> list[str]:
  """Names of the task families."""
  return sorted(_FAMILIES)


def get_family(name: str, **kwargs: Any) -> TaskFamily:
  """The task family `name`, configured by `kwargs` (its dataclass fields)."""
  factory = _lookup("task family", name, _FAMILIES)
  try:
    return factory(**kwargs)
  except TypeError as e:
    raise ValueError(f"Bad arguments for task family {name!r}: {e}") from None
