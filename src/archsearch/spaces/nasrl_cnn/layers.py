"""The layers of a NAS-RL CNN read out of an architecture, and the data flow between them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ConvLayer:
    """One layer of an architecture, read out of its flat decision values.

    ``inputs`` are the earlier layers chosen at this layer's anchor point; it is always empty when the
    space has no skip connections (the layers then form a chain).
    """

    filter_h: int
    filter_w: int
    num_filters: int
    stride_h: int = 1
    stride_w: int = 1
    inputs: tuple[int, ...] = ()


IMAGE = "image"
CLASSIFIER = "classifier"
Node = int | str
"""A node of the data flow: a layer index, ``IMAGE`` or ``CLASSIFIER``."""


def data_flow(layers: Sequence[ConvLayer], skip_connections: bool) -> list[tuple[Node, Node]]:
    """The data flow of ``layers`` as (source, target) edges, by the compile rules of Zoph & Le 2017, 3.3.

    A layer with no selected input reads the image; a layer that feeds no later layer feeds the
    classifier. Without skip connections the layers form a chain.
    """
    edges: list[tuple[Node, Node]] = []
    for index, layer in enumerate(layers):
        inputs = layer.inputs if skip_connections else ((index - 1,) if index else ())
        if not inputs:
            edges.append((IMAGE, index))
        edges.extend((source, index) for source in inputs)
    used = {source for source, _ in edges}
    edges.extend((index, CLASSIFIER) for index in range(len(layers)) if index not in used)
    return edges
