"""The model.py of an architecture of a user's model space: it imports the user's module and builds the
model with the chosen values fixed (``ModelSpace.export_source``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archsearch.errors import ConfigError
from archsearch.spaces.source import (
    LOAD_MODEL_SOURCE,
    MAIN_SOURCE,
    import_lines,
    model_header,
    module_root,
    python_literal,
)


def model_space_source(
    reference: str,
    model: Any,
    values: dict[str, Any],
    kwargs: dict[str, Any],
    encoded: str,
    *,
    import_dirs: Sequence[str] = (),
    origin: str = "",
) -> str:
    """The text of a model.py for an architecture of a user's model space (``ModelSpace.export_source``):
    it imports ``model`` (the class or function that ``reference``, "module:Name", names) and builds it
    with ``kwargs`` under ``fixed_arch(values)``; ``load_model()`` also loads weights.pt beside it.
    ``encoded`` is the architecture's encoding (a comment).

    ``import_dirs`` are put on ``sys.path`` first (where the search imported the user's code from, so the
    file runs from anywhere on this machine); ``origin`` says where the architecture came from (a
    comment). ConfigError when the model was defined where no other process can import it."""
    module = reference.rpartition(":")[0]
    if module == "__main__":
        raise ConfigError(
            f"the model {reference} was defined in an interactive session, which model.py cannot import;"
            " define it in a module or a file"
        )
    directories = [*import_dirs, *module_root(model)]
    stdlib, imports, name = import_lines(reference, directories)
    header = model_header(
        origin,
        f"Model space {reference} with the choices fixed: {encoded}",
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
            f"        return {name}(**KWARGS)",
        ]
    )
    return header + body + "\n" + LOAD_MODEL_SOURCE + MAIN_SOURCE
