"""Search spaces: what can be built, as a sequence of decisions.

One folder per built-in space holds all that is specific to it: ``space.py`` (the ``SearchSpace``
subclass and its hooks), ``module.py`` (its torch network, exported verbatim), and the modules its hooks
use (drawing, export, supernet). ``hooks.py`` declares the optional hooks a space may carry; ``source.py``,
``drawing.py`` and ``supernet.py`` are the kits those hooks are written with. Adding a space is one folder
and one registered name (``archsearch.registry.SPACES``, or a plug-in's entry point).
"""
