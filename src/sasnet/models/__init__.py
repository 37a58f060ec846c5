"""Model families: each is one folder here, found by name, behind one interface (``base.Recommender``).

A family's package (``sasnet/models/<family>/__init__.py``) is light, so validating params.yaml never imports
torch or a recommender library. It defines:

- ``Config``: the frozen dataclass of its params section (params.yaml's top-level key ``<family>``);
- ``READS``: the kind of input its models read, a key of ``sasnet.inputs.INPUT_KINDS``: ``ratings`` (the task's
  own split), ``review_text`` (the split with its text), ``embedding`` (``input: normalized/<encoder run>`` and a
  ``pooling``) or ``semantic_ids`` (the catalogue's semantic IDs and metadata);
- ``MODEL``: the name of its one ``base.Recommender`` subclass in ``<family>/model.py`` (imported only to train or
  predict, by ``model_class``);
- ``TASKS``: the tasks it serves, ``classify`` (params.yaml's ``models`` map, ``train@<model>`` stages) and/or
  ``rank`` (the ranking task: params.yaml's ``rankers`` map, ``rank@<ranker>`` stages).

A model is one entry of params.yaml's ``models`` map (a family, its input and overrides of the family's section);
a ranker one entry of its ``rankers`` map (a family and overrides).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

FAMILIES = tuple(sorted(module.name for module in pkgutil.iter_modules(__path__) if module.ispkg))


def family(name: str) -> ModuleType:
    """The family's light package (its Config, READS, MODEL and TASKS)."""
    if name not in FAMILIES:
        raise KeyError(f"unknown model family {name!r}; families: {', '.join(FAMILIES)}")
    return importlib.import_module(f"{__name__}.{name}")


def serves(name: str, task: str) -> bool:
    """Whether family ``name`` serves ``task`` (classify or rank)."""
    return task in family(name).TASKS


def model_class(name: str) -> type:
    """The family's Recommender subclass (this imports its model code: torch, cornac, ...)."""
    return getattr(importlib.import_module(f"{__name__}.{name}.model"), family(name).MODEL)
