"""The export of a recurrent cell (the space's ``export_source`` hook): a standalone language model."""

from __future__ import annotations

import inspect
import pprint
from typing import Any

from archsearch import __version__
from archsearch.spaces.rnn_cell import module
from archsearch.spaces.source import LOAD_MODEL_SOURCE


def language_model_source(
    space: str, encoded: str, equations: str, cell: dict[str, Any], sizes: dict[str, Any], vocab_size: int
) -> str:
    """A standalone language model (``module.py``'s ``TreeCellLM``) of the tree cell ``cell`` (its plain-
    data spec, encoded as ``encoded`` in the space named ``space``) with the model ``sizes`` and a
    vocabulary of ``vocab_size`` words; the cell's ``equations`` (one a line) head the file as comments."""
    equations = "".join(f"#   {line}\n" for line in equations.splitlines())
    header = (
        f"# Standalone PyTorch language model exported by archsearch {__version__}; it needs only torch.\n"
        f"# Space {space}, cell: {encoded}\n"
        f"# One step of the cell (biases omitted):\n{equations}"
        f"# Vocabulary of {vocab_size} words. Run this file to build the model and print its parameter count.\n\n"
    )
    footer = f'''

CELL = {pprint.pformat(cell, sort_dicts=False, width=100)}
"""The cell {encoded}."""
SIZES = {pprint.pformat(sizes, sort_dicts=False, width=100)}
VOCAB_SIZE = {vocab_size}


def build_model(vocab_size: int = VOCAB_SIZE) -> nn.Module:
    """The exported language model, freshly initialised; load trained weights with ``load_state_dict``.

    ``model(tokens)`` takes word indices (T, B) and returns logits (T, B, vocab_size) and the state.
    """
    return TreeCellLM(CELL, vocab_size, **SIZES)
{LOAD_MODEL_SOURCE}

if __name__ == "__main__":
    model = build_model().eval()
    tokens = torch.randint(0, VOCAB_SIZE, (35, 2))
    with torch.no_grad():
        logits, _ = model(tokens)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"parameters: {{parameters}}, output shape on random tokens: {{tuple(logits.shape)}}")
'''
    return header + inspect.getsource(module) + footer
