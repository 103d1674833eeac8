"""Model spaces inside the user's own PyTorch code.

Write an ordinary ``nn.Module`` whose constructor uses ``choice`` (a value: channels, kernel size,
dropout, activation), ``LayerChoice`` (one of several modules), ``InputChoice`` (which earlier tensors
feed a layer) and ``Repeat`` (a variable number of blocks); ``ModelSpace(Net, **kwargs)`` turns it into a
search space of decisions that every strategy searches, and builds each child as a plain ``nn.Module``
(``fixed_arch`` does the same by hand). Outside any archsearch context the module takes every choice's
first option, so it runs and debugs as it is. Call the primitives in constructors (``__init__``), not in
``forward``.

``ChoiceMode`` is the hook for other ways of constructing the module (one-shot supernets): subclass it
and construct under ``use_mode(mode)`` or with ``ModelSpace.construct(mode)``.
"""

from __future__ import annotations

from archsearch.nn.fixed import FixedMode, fixed_arch
from archsearch.nn.mode import ChoiceMode, FirstChoiceMode, use_mode
from archsearch.nn.model_space import ModelSpace
from archsearch.nn.mutables import InputChoice, LayerChoice, Repeat, choice
from archsearch.nn.selector import InputSelector

__all__ = [
    "ChoiceMode",
    "FirstChoiceMode",
    "FixedMode",
    "InputChoice",
    "InputSelector",
    "LayerChoice",
    "ModelSpace",
    "Repeat",
    "choice",
    "fixed_arch",
    "use_mode",
]
