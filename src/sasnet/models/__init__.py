"""Model families: each is one folder here, found by name, behind one interface (``base.Recommender``).

A family's package (``sasnet/models/<family>/__init__.py``) is light, so validating params.yaml never imports
torch or a recommender library. It defines:

- ``Config``: the frozen dataclass of its params section (params.yaml's top-level key ``<family>``);
- ``READS``: the kind of input its models read, a key of ``sasnet.inputs.INPUT_KINDS``: ``ratings`` (the task's
  own split), ``review_text`` (the split with its text), ``embedding`` (``input: normalized/<encoder run>`` and a
  ``pooling``) or ``semantic_ids`` (the catalogue's semantic IDs and metadata);
- ``RECOMMENDER``: the name of its ``Recommender`` subclass in ``<family>/model.py`` (imported only to train or
  predict, by ``model_class``), or None for a family that only ranks;
- ``RANKER`` (optional): the name of its ``Ranker`` subclass in ``<family>/model.py``, for a family that ranks the
  catalogue (the ranking task: params.yaml's ``rankers`` map, ``rank@<ranker>`` stages).

A model is one entry of params.yaml's ``models`` map (a family, its input and overrides of the family's section);
a ranker one entry of its ``rankers`` map (a family and overrides).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

FAMILIES = tuple(sorted(module.name for module in pkgutil.iter_modules(__path__) if module.ispkg))


def family(name: str) -> ModuleType:
    """The family's light package (its Config, READS, RECOMMENDER and RANKER)."""
    if name not in FAMILIES:
        raise KeyError(f"unknown model family {name!r}; families: {', '.join(FAMILIES)}")
    return importlib.import_module(f"{__name__}.{name}")


TASK_CLASSES = {"classify": "RECOMMENDER", "rank": "RANKER"}  # the model class a family names for each task


def serves(name: str, task: str) -> bool:
    """Whether family ``name`` has a model class for ``task`` (classify or rank)."""
    return getattr(family(name), TASK_CLASSES[task], None) is not None


def model_class(name: str, task: str) -> type:
    """The family's Recommender or Ranker subclass for ``task`` (this imports its model code: torch, cornac, ...)."""
    return getattr(importlib.import_module(f"{__name__}.{name}.model"), getattr(family(name), TASK_CLASSES[task]))


def recommender_class(name: str) -> type:
    return model_class(name, "classify")


def ranker_class(name: str) -> type:
    return model_class(name, "rank")


def can_classify(name: str) -> bool:
    return serves(name, "classify")


def can_rank(name: str) -> bool:
    return serves(name, "rank")
