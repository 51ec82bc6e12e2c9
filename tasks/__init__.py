"""Tasks to train on: the `Task` / `TaskFamily` interface, datasets and a small zoo.

>>> import tasks, jax
>>> task = tasks.get("digits_mlp_32")
>>> params = task.init(jax.random.PRNGKey(0))
>>> batch = task.batches("train").sample(jax.random.PRNGKey(1))
>>> loss = task.loss(params, jax.random.PRNGKey(2), batch)
"""

from tasks.base import (
  SPLITS,
  ArraySampler,
  BatchSampler,
  GaussianSampler,
  Task,
  TaskFamily,
)
from tasks.gradnormlorp import GradNormLoRP
from tasks.heldout import META_TEST, META_TRAIN, META_VALID, sample_family
from tasks.language import LSTMLM, LMFamily, TextSampler, TransformerLM
from tasks.mlp_classifier import MLPClassifier, MLPClassifierFamily
from tasks.quadratic import Quadratic, QuadraticFamily
from tasks.reparam import Reparameterized
from tasks.rosenbrock import Rosenbrock, RosenbrockFamily
from tasks.training import train
from tasks.vision import CNNClassifier, MLPAutoencoder
from tasks.zoo import adam_lr, family_names, get, get_family, names

__all__ = [
  "LSTMLM",
  "META_TEST",
  "META_TRAIN",
  "META_VALID",
  "SPLITS",
  "ArraySampler",
  "BatchSampler",
  "CNNClassifier",
  "GaussianSampler",
  "GradNormLoRP",
  "LMFamily",
  "MLPAutoencoder",
  "MLPClassifier",
  "MLPClassifierFamily",
  "Quadratic",
  "QuadraticFamily",
  "Reparameterized",
  "Rosenbrock",
  "RosenbrockFamily",
  "Task",
  "TaskFamily",
  "TextSampler",
  "TransformerLM",
  "adam_lr",
  "family_names",
  "get",
  "get_family",
  "names",
  "sample_family",
  "train",
]
