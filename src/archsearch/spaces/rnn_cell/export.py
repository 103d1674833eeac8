"""The export of a recurrent cell (the space's ``export_source`` hook): a standalone language model."""

from __future__ import annotations

import inspect
import pprint

from archsearch import __version__
from archsearch.core import Architecture
from archsearch.errors import ConfigError
from archsearch.spaces.rnn_cell import module
from archsearch.spaces.rnn_cell.space import DEFAULT_DROPOUT, DEFAULT_NUM_LAYERS, RNNCellSpace
from archsearch.spaces.source import LOAD_MODEL_SOURCE


def language_model_source(
    space: RNNCellSpace, arch: Architecture, input_shape: tuple[int, ...], num_classes: int
) -> str:
    """The tree cell's language model; ``num_classes`` is the vocabulary size and ``input_shape`` gives
    the embedding and hidden sizes as ``RNNCellSpace.build`` reads it."""
    if type(num_classes) is not int or num_classes < 1:
        raise ConfigError(f"rnn_cell: the vocabulary size must be a positive int, got {num_classes!r}")
    cell = space.module_spec(arch)
    sizes = {
        **space.lm_sizes(input_shape),
        "num_layers": DEFAULT_NUM_LAYERS,
        "dropout": DEFAULT_DROPOUT,
    }
    encoded = space.encode(arch)
    equations = "".join(f"#   {line}\n" for line in space.equations(arch).splitlines())
    header = (
        f"# Standalone PyTorch language model exported by archsearch {__version__}; it needs only torch.\n"
        f"# Space {space.name}, cell: {encoded}\n"
        f"# One step of the cell (biases omitted):\n{equations}"
        f"# Vocabulary of {num_classes} words. Run this file to build the model and print its parameter count.\n\n"
    )
    footer = f'''

CELL = {pprint.pformat(cell, sort_dicts=False, width=100)}
"""The cell {encoded}."""
SIZES = {pprint.pformat(sizes, sort_dicts=False, width=100)}
VOCAB_SIZE = {num_classes}


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
