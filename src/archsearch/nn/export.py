"""The model.py of an architecture of a user's model space: it imports the user's module and builds the
model with the chosen values fixed (``ModelSpace.export_source``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from archsearch.core import Architecture
from archsearch.errors import ConfigError
from archsearch.spaces.source import (
    LOAD_MODEL_SOURCE,
    MAIN_SOURCE,
    import_lines,
    model_header,
    module_root,
    python_literal,
)

if TYPE_CHECKING:
    from archsearch.nn.model_space import ModelSpace


def model_space_source(
    space: ModelSpace,
    arch: Architecture,
    input_shape: tuple[int, ...] | None = None,
    num_classes: int | None = None,
    *,
    import_dirs: Sequence[str] = (),
    origin: str = "",
) -> str:
    """The text of a model.py for ``arch`` of a user's model space (``archsearch.nn.ModelSpace``): it
    imports the user's module and builds the model under ``fixed_arch`` with the chosen values, passing
    ``input_shape`` and ``num_classes`` (the data's, None when the model was built without them) as
    ``ModelSpace.build`` does; ``load_model()`` also loads weights.pt beside it.

    ``import_dirs`` are put on ``sys.path`` first (where the search imported the user's code from, so the
    file runs from anywhere on this machine); ``origin`` says where the architecture came from (a
    comment). ConfigError when the model was defined where no other process can import it."""
    config = space.config()
    reference = str(config["model"])
    module = reference.rpartition(":")[0]
    if module == "__main__":
        raise ConfigError(
            f"the model {reference} was defined in an interactive session, which model.py cannot import;"
            " define it in a module or a file"
        )
    values = space.values(arch)
    kwargs = space.arguments(None if input_shape is None else tuple(input_shape), num_classes)
    directories = [*import_dirs, *module_root(space.model)]
    stdlib, imports, model = import_lines(reference, directories)
    header = model_header(
        origin,
        f"Model space {reference} with the choices fixed: {space.encode(arch)}",
        f"torch, archsearch and your module {module} (looked for where the search found it)",
        stdlib,
    )
    body = "\n".join(
        [
            "from archsearch.nn import fixed_arch",
            "",
            *imports,
            "",
            f"VALUES = {python_literal(values, 'a chosen value')}",
            '"""The value chosen for each labelled choice of the space."""',
            f"KWARGS = {python_literal(kwargs, 'an argument of the model')}",
            '"""The arguments the search constructed the model with."""',
            "",
            "",
            "def build_model() -> nn.Module:",
            '    """The model with the chosen values fixed, freshly initialised."""',
            "    with fixed_arch(VALUES):",
            f"        return {model}(**KWARGS)",
        ]
    )
    return header + body + "\n" + LOAD_MODEL_SOURCE + MAIN_SOURCE
