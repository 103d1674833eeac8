"""The NAS-RL CNN macro search space of Zoph & Le (ICLR 2017): a stack of conv layers with skip links."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archsearch.core import LINKS, Architecture, Decision, SearchSpace
from archsearch.errors import ConfigError, InvalidArchitectureError
from archsearch.spaces.base import check_image_shape
from archsearch.spaces.nasrl_cnn.layers import ConvLayer, Node, data_flow

if TYPE_CHECKING:
    from archsearch.spaces.nasrl_cnn.module import NasRLCNN

FILTER_H = "filter_h"
FILTER_W = "filter_w"
STRIDE_H = "stride_h"
STRIDE_W = "stride_w"
NUM_FILTERS = "num_filters"
TOKENS = (FILTER_H, FILTER_W, STRIDE_H, STRIDE_W, NUM_FILTERS)
"""Token kinds of one layer, in the default order (SPEC 1.2: filter height first)."""
STRIDE_TOKENS = (STRIDE_H, STRIDE_W)

# The paper's values (Zoph & Le 2017, CIFAR-10 experiments; SPEC 1.2 and 1.5).
PAPER_NUM_LAYERS = 6
PAPER_FILTER_HEIGHTS = (1, 3, 5, 7)
PAPER_FILTER_WIDTHS = (1, 3, 5, 7)
PAPER_NUM_FILTERS = (24, 36, 48, 64)
PAPER_STRIDES = (1, 2, 3)

_NUMBER = r"(?:0|[1-9][0-9]*)"
_LAYER_TOKEN = re.compile(
    rf"(?P<fh>{_NUMBER})x(?P<fw>{_NUMBER}):(?P<nf>{_NUMBER})"
    rf"(?:/s(?P<sh>{_NUMBER})x(?P<sw>{_NUMBER}))?"
    rf"(?:<(?P<inputs>{_NUMBER}(?:,{_NUMBER})*))?"
)


def _value_set(name: str, values: Sequence[int]) -> tuple[int, ...]:
    try:
        result = tuple(values)
    except TypeError:
        raise ConfigError(f"nasrl_cnn: {name} must be a list of positive ints, got {values!r}") from None
    if not result:
        raise ConfigError(f"nasrl_cnn: {name} is empty; give at least one value")
    if any(type(v) is not int or v < 1 for v in result):
        raise ConfigError(f"nasrl_cnn: {name} must hold positive ints, got {list(result)}")
    if len(set(result)) != len(result):
        raise ConfigError(f"nasrl_cnn: {name} has repeated values {list(result)}; list each value once")
    return result


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"nasrl_cnn: {name} must be true or false, got {value!r}")
    return value


def _num_layers(value: Any) -> int:
    if type(value) is not int or value < 1:
        raise ConfigError(f"nasrl_cnn: num_layers must be an int >= 1, got {value!r}")
    return value


def _token_order(value: Sequence[str]) -> tuple[str, ...]:
    order = tuple(value) if not isinstance(value, str) else (value,)
    unknown = [t for t in order if t not in TOKENS]
    missing = [t for t in TOKENS if t not in order]
    if unknown or missing or len(set(order)) != len(order):
        raise ConfigError(
            f"nasrl_cnn: token_order must list each of {list(TOKENS)} exactly once, got {list(order)}"
            + (f" (unknown: {unknown})" if unknown else "")
            + (f" (missing: {missing})" if missing else "")
        )
    return order


class NasRLCNNSpace(SearchSpace):
    """CNN macro search space of Zoph & Le, "Neural Architecture Search with Reinforcement Learning",
    ICLR 2017 (SPEC 1.2 and 1.6).

    Each of ``num_layers`` layers is, in decision order: an anchor point ``layer{i}.inputs`` (a sorted
    tuple of earlier layer indices; present when ``skip_connections``), then one token per entry of
    ``token_order`` (filter height, filter width, stride height, stride width, number of filters; the
    stride tokens only when ``predict_strides``, otherwise strides are 1).

    Compile rules (paper, section 3.3): a layer is conv(kh x kw, stride (sh, sw), padding (kh//2, kw//2),
    no bias) -> batch norm -> ReLU; its inputs are concatenated along channels after zero-padding the
    smaller maps to the largest height and width; a layer with no input takes the image; the outputs of
    all layers that feed no later layer are padded, concatenated, globally average pooled and sent to a
    linear classifier. Without skip connections the layers form a chain.

    Architectures of any whole number of layers up to ``num_layers`` belong to the space, so one space
    at the final depth validates every architecture of a depth curriculum (``with_depth``).
    """

    name = "nasrl_cnn"

    def __init__(
        self,
        num_layers: int = PAPER_NUM_LAYERS,
        filter_heights: Sequence[int] = PAPER_FILTER_HEIGHTS,
        filter_widths: Sequence[int] = PAPER_FILTER_WIDTHS,
        num_filters: Sequence[int] = PAPER_NUM_FILTERS,
        strides: Sequence[int] = PAPER_STRIDES,
        predict_strides: bool = False,
        skip_connections: bool = True,
        token_order: Sequence[str] = TOKENS,
    ) -> None:
        self.num_layers = _num_layers(num_layers)
        self.filter_heights = _value_set("filter_heights", filter_heights)
        self.filter_widths = _value_set("filter_widths", filter_widths)
        self.num_filters = _value_set("num_filters", num_filters)
        self.strides = _value_set("strides", strides)
        self.predict_strides = _flag("predict_strides", predict_strides)
        self.skip_connections = _flag("skip_connections", skip_connections)
        self.token_order = _token_order(token_order)
        # The token kinds each layer emits, in order; the anchor point, if any, comes before them.
        self.tokens = tuple(t for t in self.token_order if predict_strides or t not in STRIDE_TOKENS)
        choices = {
            FILTER_H: self.filter_heights,
            FILTER_W: self.filter_widths,
            STRIDE_H: self.strides,
            STRIDE_W: self.strides,
            NUM_FILTERS: self.num_filters,
        }
        decisions: list[Decision] = []
        for i in range(self.num_layers):
            if self.skip_connections:
                decisions.append(Decision(name=f"layer{i}.inputs", kind=LINKS, num_links=i))
            decisions.extend(Decision(name=f"layer{i}.{t}", kind=t, choices=choices[t]) for t in self.tokens)
        self._decisions = tuple(decisions)
        self.decisions_per_layer = len(self.tokens) + int(self.skip_connections)

    # -- the SearchSpace interface -------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Keyword arguments that recreate this space, as JSON-native values (lists, not tuples)."""
        return {
            "num_layers": self.num_layers,
            "filter_heights": list(self.filter_heights),
            "filter_widths": list(self.filter_widths),
            "num_filters": list(self.num_filters),
            "strides": list(self.strides),
            "predict_strides": self.predict_strides,
            "skip_connections": self.skip_connections,
            "token_order": list(self.token_order),
        }

    def decisions(self, prefix: tuple[Any, ...]) -> Decision | None:
        """The decision at position ``len(prefix)``; the sequence never depends on earlier values."""
        position = len(prefix)
        return self._decisions[position] if position < len(self._decisions) else None

    def kinds(self) -> dict[str, Decision]:
        """One decision per kind, taken from the last layer (so the LINKS one has the most links)."""
        last_layer = self._decisions[-self.decisions_per_layer :]
        return {decision.kind: decision for decision in last_layer}

    def validate(self, arch: Architecture) -> None:
        """Accept an architecture of any whole number of layers from 1 to ``num_layers``.

        Decisions do not depend on depth, so ``with_depth(k)``'s sequence is a prefix of this one and
        an architecture of k layers is checked against the first k layers' decisions.
        """
        if not isinstance(arch, Architecture):
            raise InvalidArchitectureError(f"nasrl_cnn: expected an Architecture, got {type(arch).__name__}")
        if arch.space != self.name:
            raise InvalidArchitectureError(f"architecture is of space {arch.space!r}, not {self.name!r}")
        if not isinstance(arch.values, tuple):
            raise InvalidArchitectureError(
                f"nasrl_cnn: values must be a tuple, got {type(arch.values).__name__}"
            )
        depth, extra = divmod(len(arch.values), self.decisions_per_layer)
        if extra:
            names = [d.name.split(".", 1)[1] for d in self._decisions[: self.decisions_per_layer]]
            raise InvalidArchitectureError(
                f"nasrl_cnn: {len(arch.values)} values leave a partial layer: each layer has "
                f"{self.decisions_per_layer} values {names}, and the last layer has only {extra}"
            )
        if not 1 <= depth <= self.num_layers:
            raise InvalidArchitectureError(
                f"nasrl_cnn: architecture has {depth} layers; this space allows 1 to {self.num_layers}"
            )
        for decision, value in zip(self._decisions, arch.values, strict=False):
            decision.check(value)
            # check() lets through values equal to ints (True == 1, 3.0 == 3) and numpy ints break JSON.
            for item in value if decision.is_links else (value,):
                if type(item) is not int:
                    raise InvalidArchitectureError(
                        f"{decision.name}: {item!r} is a {type(item).__name__}, not an int"
                    )

    def encode(self, arch: Architecture) -> str:
        """One token per layer, separated by spaces: ``FHxFW:FILTERS[/sSHxSW][<i,j,...]``.

        ``/sSHxSW`` appears when strides are predicted; ``<`` and the input layer indices appear when
        the layer has selected inputs. Example: ``3x5:36<0,1``.
        """
        tokens = []
        for layer in self.layers(arch):
            token = f"{layer.filter_h}x{layer.filter_w}:{layer.num_filters}"
            if self.predict_strides:
                token += f"/s{layer.stride_h}x{layer.stride_w}"
            if layer.inputs:
                token += "<" + ",".join(str(j) for j in layer.inputs)
            tokens.append(token)
        return " ".join(tokens)

    def decode(self, text: str) -> Architecture:
        """The inverse of ``encode``; raises InvalidArchitectureError naming the malformed piece."""
        pieces = text.split()
        if not pieces:
            raise InvalidArchitectureError("nasrl_cnn: cannot decode an empty string; expected layer tokens")
        layers = [self._decode_layer(i, piece) for i, piece in enumerate(pieces)]
        try:
            return self.from_layers(layers)
        except InvalidArchitectureError as exc:
            raise InvalidArchitectureError(f"nasrl_cnn: cannot decode {text!r}: {exc}") from exc

    def build(self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int) -> NasRLCNN:
        """The child network of ``arch`` for images of ``input_shape`` = (channels, height, width)."""
        from archsearch.spaces.nasrl_cnn.module import NasRLCNN  # torch loads only for spaces that train

        return NasRLCNN(self.module_spec(arch, input_shape, num_classes))

    # -- hooks (archsearch.spaces.hooks) -------------------------------------------------------

    def export_source(self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int) -> str:
        """The child network of ``arch`` as a standalone file (``module.py``'s text and its spec)."""
        import inspect

        from archsearch.spaces.nasrl_cnn import module
        from archsearch.spaces.source import image_model_source

        spec = self.module_spec(arch, input_shape, num_classes)
        title = f"Space {self.name}, architecture: {self.encode(arch)}"
        return image_model_source(
            inspect.getsource(module), "NasRLCNN", spec, title, input_shape, num_classes
        )

    def draw(self, arch: Architecture, path: str | Path) -> Path:
        """The layer stack of ``arch`` with its skip links."""
        from archsearch.spaces.nasrl_cnn.drawing import draw_nasrl_cnn

        return draw_nasrl_cnn(self.name, self.encode(arch), self.layers(arch), self.edges(arch), path)

    # -- NAS-RL specific -----------------------------------------------------------------------

    def with_depth(self, num_layers: int) -> NasRLCNNSpace:
        """A copy of this space with ``num_layers`` layers (the depth curriculum, SPEC 1.5)."""
        return NasRLCNNSpace(**{**self.config(), "num_layers": num_layers})

    def depth(self, arch: Architecture) -> int:
        """The number of layers of ``arch``."""
        self.validate(arch)
        return len(arch.values) // self.decisions_per_layer

    def edges(self, arch: Architecture) -> list[tuple[Node, Node]]:
        """The data flow of ``arch`` as (source, target) edges (``layers.data_flow``)."""
        return data_flow(self.layers(arch), self.skip_connections)

    def layers(self, arch: Architecture) -> tuple[ConvLayer, ...]:
        """The layers of ``arch`` as named fields (validates it first)."""
        self.validate(arch)
        result = []
        per_layer = self.decisions_per_layer
        for start in range(0, len(arch.values), per_layer):
            chunk = arch.values[start : start + per_layer]
            inputs: tuple[int, ...] = chunk[0] if self.skip_connections else ()
            fields = dict(zip(self.tokens, chunk[int(self.skip_connections) :], strict=True))
            result.append(
                ConvLayer(
                    filter_h=fields[FILTER_H],
                    filter_w=fields[FILTER_W],
                    num_filters=fields[NUM_FILTERS],
                    stride_h=fields.get(STRIDE_H, 1),
                    stride_w=fields.get(STRIDE_W, 1),
                    inputs=inputs,
                )
            )
        return tuple(result)

    def from_layers(self, layers: Sequence[ConvLayer]) -> Architecture:
        """The architecture made of ``layers`` (the inverse of ``layers``); validates the result."""
        values: list[Any] = []
        for index, layer in enumerate(layers):
            if not self.predict_strides and (layer.stride_h, layer.stride_w) != (1, 1):
                raise InvalidArchitectureError(
                    f"layer{index}: strides {layer.stride_h}x{layer.stride_w} given, but this space does "
                    "not predict strides (they are fixed to 1)"
                )
            if not self.skip_connections and layer.inputs:
                raise InvalidArchitectureError(
                    f"layer{index}: inputs {list(layer.inputs)} given, but this space has no skip connections"
                )
            if self.skip_connections:
                values.append(tuple(layer.inputs))
            fields = {
                FILTER_H: layer.filter_h,
                FILTER_W: layer.filter_w,
                STRIDE_H: layer.stride_h,
                STRIDE_W: layer.stride_w,
                NUM_FILTERS: layer.num_filters,
            }
            values.extend(fields[t] for t in self.tokens)
        arch = Architecture(self.name, tuple(values))
        self.validate(arch)
        return arch

    def module_spec(
        self, arch: Architecture, input_shape: tuple[int, ...], num_classes: int
    ) -> dict[str, Any]:
        """The plain-data spec ``NasRLCNN`` is built from (also embedded verbatim by the exporter)."""
        check_image_shape("nasrl_cnn", input_shape, num_classes)
        layers = []
        for index, layer in enumerate(self.layers(arch)):
            if self.skip_connections:
                inputs = list(layer.inputs)
            else:
                inputs = [index - 1] if index else []
            layers.append(
                {
                    "kh": layer.filter_h,
                    "kw": layer.filter_w,
                    "sh": layer.stride_h,
                    "sw": layer.stride_w,
                    "filters": layer.num_filters,
                    "inputs": inputs,
                }
            )
        channels, height, width = input_shape
        return {
            "in_channels": channels,
            "height": height,
            "width": width,
            "num_classes": num_classes,
            "layers": layers,
        }

    def _decode_layer(self, index: int, piece: str) -> ConvLayer:
        expected = "FHxFW:FILTERS" + ("/sSHxSW" if self.predict_strides else "")
        expected += "[<i,j,...]" if self.skip_connections else ""
        match = _LAYER_TOKEN.fullmatch(piece)
        if match is None:
            raise InvalidArchitectureError(
                f"nasrl_cnn: cannot decode layer {index} token {piece!r}: expected {expected}"
            )
        has_strides = match["sh"] is not None
        if has_strides != self.predict_strides:
            problem = "has strides" if has_strides else "lacks strides"
            raise InvalidArchitectureError(
                f"nasrl_cnn: layer {index} token {piece!r} {problem}; this space expects {expected}"
            )
        if match["inputs"] is not None and not self.skip_connections:
            raise InvalidArchitectureError(
                f"nasrl_cnn: layer {index} token {piece!r} has inputs; this space has no skip connections"
            )
        inputs = match["inputs"]
        return ConvLayer(
            filter_h=int(match["fh"]),
            filter_w=int(match["fw"]),
            num_filters=int(match["nf"]),
            stride_h=int(match["sh"]) if has_strides else 1,
            stride_w=int(match["sw"]) if has_strides else 1,
            inputs=tuple(int(j) for j in inputs.split(",")) if inputs else (),
        )
