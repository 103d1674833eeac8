"""The PyTorch recurrent cell and language model of one NAS-RL tree cell (Zoph & Le, ICLR 2017), built
from plain data.

This file imports nothing but torch, typing and math: ``archsearch.report.export`` copies its text
verbatim into standalone model files, so the exported network is this exact code.

A cell spec is a dict of plain data (SPEC 2.1)::

    {"base": 2,
     "nodes": [{"combine": "add", "activation": "tanh"},          # node 0, a leaf
               {"combine": "elem_mult", "activation": "relu"},    # node 1, a leaf
               {"combine": "elem_mult", "activation": "sigmoid"}],  # node 2, the root
     "inject": {"combine": "add", "activation": "relu"},
     "inject_node": 0, "memory_node": 1}

The tree is full and binary with ``base`` leaves; nodes are numbered leaves first, then level by level,
the root last, so internal node ``i`` combines nodes ``2 * (i - base)`` and ``2 * (i - base) + 1``.
One step of the cell:

- leaf ``i``: ``p_i = combine(W_x[i]·x_t + b_x[i], W_h[i]·h_{t-1} + b_h[i])``, ``a_i = activation(p_i)``;
- internal node ``i``: ``p_i = combine(a_left, a_right)``, ``a_i = activation(p_i)`` (no weights);
- the inject node's output is replaced by ``inject_activation(inject_combine(a_i, c_{t-1}))`` before
  its parent reads it (no weights);
- ``c_t = p_memory_node`` (the memory node's value before its activation); ``h_t`` = the root's output.

Speed: the input projections of all leaves and all time steps are one matrix product before the time
loop, the recurrent projections of all leaves one product per step, and the gradient of the recurrent
weights one product after the loop (``RecurrentWeightTap``). The loop itself is straight-line code
generated for the cell (``TreeCell.source``), run as TorchScript (backend ``"script"``) or Python
(``"python"``); backend ``"eager"`` interprets the spec node by node with plain autograd instead (the
reference the tests compare against).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

COMBINE_CODE = {"add": "{0} + {1}", "elem_mult": "{0} * {1}", "max": "torch.maximum({0}, {1})"}
"""TorchScript expression of each combination of two tensors."""
ACTIVATION_CODE = {
    "identity": "{0}",
    "tanh": "torch.tanh({0})",
    "sigmoid": "torch.sigmoid({0})",
    "relu": "torch.relu({0})",
    "sin": "torch.sin({0})",
}
"""TorchScript expression of each activation of a tensor."""

State = tuple[torch.Tensor, torch.Tensor]


def combine(name: str, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """The combination ``name`` of two tensors (eager)."""
    if name == "add":
        return left + right
    if name == "elem_mult":
        return left * right
    if name == "max":
        return torch.maximum(left, right)
    raise ValueError(f"unknown combination {name!r}; known: {sorted(COMBINE_CODE)}")


def activate(name: str, value: torch.Tensor) -> torch.Tensor:
    """The activation ``name`` of a tensor (eager)."""
    if name == "identity":
        return value
    if name == "tanh":
        return torch.tanh(value)
    if name == "sigmoid":
        return torch.sigmoid(value)
    if name == "relu":
        return torch.relu(value)
    if name == "sin":
        return torch.sin(value)
    raise ValueError(f"unknown activation {name!r}; known: {sorted(ACTIVATION_CODE)}")


def children(node: int, base: int) -> tuple[int, int]:
    """The two nodes an internal node combines (nodes numbered leaves first, root last)."""
    return 2 * (node - base), 2 * (node - base) + 1


def check_cell_spec(spec: dict[str, Any]) -> None:
    """Raise ValueError naming the first thing wrong with a cell spec."""
    base = spec.get("base")
    if type(base) is not int or base < 2 or base & (base - 1):
        raise ValueError(f"cell base must be a power of two >= 2, got {base!r}")
    num_nodes = 2 * base - 1
    nodes = spec.get("nodes")
    if not isinstance(nodes, (list, tuple)) or len(nodes) != num_nodes:
        raise ValueError(f"a cell of base {base} needs a list of {num_nodes} nodes, got {nodes!r}")
    for where, node in [*((f"node {i}", n) for i, n in enumerate(nodes)), ("inject", spec.get("inject"))]:
        if not isinstance(node, dict):
            raise ValueError(f"{where} must be a dict with combine and activation, got {node!r}")
        if node.get("combine") not in COMBINE_CODE:
            raise ValueError(f"{where}: unknown combination {node.get('combine')!r}")
        if node.get("activation") not in ACTIVATION_CODE:
            raise ValueError(f"{where}: unknown activation {node.get('activation')!r}")
    for key in ("inject_node", "memory_node"):
        value = spec.get(key)
        if type(value) is not int or not 0 <= value < num_nodes:
            raise ValueError(f"{key} must be a node index in 0..{num_nodes - 1}, got {value!r}")


def sequence_source(spec: dict[str, Any]) -> str:
    """Source of ``run(xproj, h, c, weight_h, recurrent_bias) -> (outputs, h, c)``: the time loop of the
    cell as straight-line code, one statement per node, valid both as TorchScript and as Python.

    ``xproj`` (T, B, base*H) holds every leaf's input projection and ``weight_h`` (H, base*H) every
    leaf's recurrent matrix, leaf-major; ``recurrent_bias`` (T, B, base*H) is added to the recurrent
    projection of each step (the recurrent bias, expanded; see ``RecurrentWeightTap``).
    """
    check_cell_spec(spec)
    base, nodes, inject = spec["base"], spec["nodes"], spec["inject"]
    inject_node, memory_node = spec["inject_node"], spec["memory_node"]
    leaves = ", ".join(f"x{i}" for i in range(base))
    recurrent = ", ".join(f"r{i}" for i in range(base))
    lines = [
        "def run(xproj: Tensor, h: Tensor, c: Tensor, weight_h: Tensor, recurrent_bias: Tensor)"
        " -> Tuple[Tensor, Tensor, Tensor]:",
        "    outputs: List[Tensor] = []",
        "    for xt, bt in zip(xproj.unbind(0), recurrent_bias.unbind(0)):",
        f"        {leaves} = xt.chunk({base}, 1)",
        f"        {recurrent} = torch.addmm(bt, h, weight_h).chunk({base}, 1)",
    ]
    for i, node in enumerate(nodes):
        left, right = (f"x{i}", f"r{i}") if i < base else tuple(f"a{j}" for j in children(i, base))
        lines.append(f"        p{i} = " + COMBINE_CODE[node["combine"]].format(left, right))
        lines.append(f"        a{i} = " + ACTIVATION_CODE[node["activation"]].format(f"p{i}"))
        if i == inject_node:
            merged = COMBINE_CODE[inject["combine"]].format(f"a{i}", "c")
            lines.append(f"        a{i} = " + ACTIVATION_CODE[inject["activation"]].format(merged))
    lines += [
        f"        c = p{memory_node}",
        f"        h = a{len(nodes) - 1}",
        "        outputs.append(h)",
        "    return torch.stack(outputs), h, c",
    ]
    return "\n".join(lines) + "\n"


def compile_sequence(source: str, backend: str) -> Any:
    """The ``run`` function of ``source`` compiled by TorchScript (``"script"``) or Python (``"python"``)."""
    if backend == "script":
        return torch.jit.CompilationUnit(source).run
    namespace: dict[str, Any] = {"torch": torch, "Tensor": torch.Tensor, "List": list, "Tuple": tuple}
    exec(compile(source, "<tree cell>", "exec"), namespace)
    return namespace["run"]


class RecurrentWeightTap(torch.autograd.Function):
    """Route the gradient of every step's recurrent projection to the recurrent weights in one product.

    The time loop multiplies ``h_{t-1}`` by a detached copy of ``W_h``, so autograd computes only
    ``dL/dh_{t-1}`` at each step. This function's output is the recurrent bias expanded to
    (T, B, base*H) and added to each step's product; its backward receives ``G`` = every step's
    gradient of the projection and returns ``dL/dW_h = G^T · [h_0 .. h_{T-1}]`` (one (T*B)-row product
    instead of T products of B rows) and ``dL/db_h = sum G``. ``previous_states`` is an empty list the
    caller fills with the detached (T*B, H) matrix of ``h_0 .. h_{T-1}`` once the loop has run.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, weight: torch.Tensor, bias: torch.Tensor, steps: int, batch: int, previous_states: list
    ) -> torch.Tensor:
        ctx.previous_states = previous_states
        return bias.expand(steps, batch, bias.shape[0])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        rows = grad.reshape(-1, grad.shape[-1])
        (previous,) = ctx.previous_states
        return rows.t().mm(previous), rows.sum(0), None, None, None


BACKENDS = ("script", "python", "eager")
"""How a TreeCell runs its time loop: the generated code as TorchScript or as Python (both with the
batched recurrent-weight gradient), or the eager reference interpreter of the spec."""


class TreeCell(nn.Module):
    """One recurrent layer whose step is a NAS-RL tree cell (Zoph & Le 2017, section 3.2; SPEC 2.1).

    Parameters, leaf-major: ``weight_x`` (base, H, input_size) and ``weight_h`` (base, H, H) hold leaf
    ``i``'s matrices ``W_{2i}`` (input) and ``W_{2i+1}`` (recurrent; 0-based, where the paper's figure and
    ``RNNCellSpace.equations`` count from 1), ``bias_x`` and ``bias_h`` (base, H) their biases. ``forward`` runs a whole sequence. ``backend`` is one of ``BACKENDS``; all three compute
    the same values and gradients.
    """

    def __init__(
        self, spec: dict[str, Any], input_size: int, hidden_size: int, backend: str = "script"
    ) -> None:
        super().__init__()
        check_cell_spec(spec)
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; known: {list(BACKENDS)}")
        self.spec = spec
        self.base = int(spec["base"])
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.weight_x = nn.Parameter(torch.empty(self.base, self.hidden_size, self.input_size))
        self.bias_x = nn.Parameter(torch.empty(self.base, self.hidden_size))
        self.weight_h = nn.Parameter(torch.empty(self.base, self.hidden_size, self.hidden_size))
        self.bias_h = nn.Parameter(torch.empty(self.base, self.hidden_size))
        self.reset_parameters()
        self.backend = backend
        self.source = sequence_source(spec)
        self._compiled: Any = None

    def reset_parameters(self) -> None:
        """Uniform in +-1/sqrt(H), as torch.nn.LSTM."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def init_state(self, batch_size: int) -> State:
        """Zero (h, c), each (batch_size, H)."""
        zeros = self.weight_h.new_zeros(batch_size, self.hidden_size)
        return zeros, zeros.clone()

    def forward(self, inputs: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Run ``inputs`` (T, B, input_size) from ``state`` = (h, c), each (B, H) (zeros when None).

        Returns the outputs h_1..h_T as (T, B, H) and the final (h, c).
        """
        if inputs.dim() != 3 or inputs.shape[2] != self.input_size or inputs.shape[0] < 1:
            raise ValueError(
                f"expected inputs of shape (T >= 1, B, {self.input_size}), got {tuple(inputs.shape)}"
            )
        steps, batch, features = inputs.shape
        h, c = self.init_state(batch) if state is None else state
        width = self.base * self.hidden_size
        # One product for every leaf and every time step: the inputs do not depend on the recurrence.
        xproj = torch.addmm(
            self.bias_x.reshape(width),
            inputs.reshape(steps * batch, features),
            self.weight_x.reshape(width, features).t(),
        ).view(steps, batch, width)
        weight_h = self.weight_h.reshape(width, self.hidden_size)
        bias_h = self.bias_h.reshape(width)
        if self.backend == "eager":
            outputs, h_last, c_last = self._eager(xproj, h, c, weight_h.t(), bias_h)
        elif torch.is_grad_enabled() and (weight_h.requires_grad or bias_h.requires_grad):
            previous: list[torch.Tensor] = []
            recurrent_bias = RecurrentWeightTap.apply(weight_h, bias_h, steps, batch, previous)
            outputs, h_last, c_last = self._run()(xproj, h, c, weight_h.detach().t(), recurrent_bias)
            previous.append(
                torch.cat([h.detach().unsqueeze(0), outputs[:-1].detach()]).reshape(-1, self.hidden_size)
            )
        else:
            recurrent_bias = bias_h.expand(steps, batch, width)
            outputs, h_last, c_last = self._run()(xproj, h, c, weight_h.t(), recurrent_bias)
        return outputs, (h_last, c_last)

    def _run(self) -> Any:
        # Compiled lazily and dropped when pickled or deep-copied: TorchScript functions do not pickle.
        if self._compiled is None:
            self._compiled = compile_sequence(self.source, self.backend)
        return self._compiled

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_compiled"] = None
        return state

    def _eager(
        self,
        xproj: torch.Tensor,
        h: torch.Tensor,
        c: torch.Tensor,
        weight_h: torch.Tensor,
        bias_h: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The reference: interpret the spec node by node, one time step at a time, plain autograd."""
        nodes, inject = self.spec["nodes"], self.spec["inject"]
        outputs = []
        for xt in xproj.unbind(0):
            leaf_inputs = xt.chunk(self.base, 1)
            leaf_recurrent = torch.addmm(bias_h, h, weight_h).chunk(self.base, 1)
            pre: list[torch.Tensor] = []
            out: list[torch.Tensor] = []
            for i, node in enumerate(nodes):
                if i < self.base:
                    left, right = leaf_inputs[i], leaf_recurrent[i]
                else:
                    j, k = children(i, self.base)
                    left, right = out[j], out[k]
                pre.append(combine(node["combine"], left, right))
                value = activate(node["activation"], pre[i])
                if i == self.spec["inject_node"]:
                    value = activate(inject["activation"], combine(inject["combine"], value, c))
                out.append(value)
            c = pre[self.spec["memory_node"]]
            h = out[-1]
            outputs.append(h)
        return torch.stack(outputs), h, c

    def extra_repr(self) -> str:
        return (
            f"base={self.base}, input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"backend={self.backend!r}"
        )


class TreeCellLM(nn.Module):
    """A word-level language model whose recurrent layers are NAS-RL tree cells (SPEC 2.3).

    Embedding (vocab_size x embedding_size) -> dropout -> ``num_layers`` stacked ``TreeCell`` layers with
    dropout between them and on the last one's outputs -> linear decoder to vocabulary logits.
    ``tie_weights`` shares the embedding and decoder matrices (Press & Wolf 2017; Inan et al. 2017),
    which needs ``embedding_size == hidden_size``.

    The state is ``(h, c)``, each (num_layers, B, H), like torch.nn.LSTM's; detach it between truncated
    BPTT batches with ``tuple(s.detach() for s in state)``.
    """

    def __init__(
        self,
        cell: dict[str, Any],
        vocab_size: int,
        embedding_size: int = 200,
        hidden_size: int = 200,
        num_layers: int = 2,
        dropout: float = 0.2,
        tie_weights: bool = True,
        backend: str = "script",
    ) -> None:
        super().__init__()
        if tie_weights and embedding_size != hidden_size:
            raise ValueError(
                f"tie_weights needs embedding_size == hidden_size, got {embedding_size} and {hidden_size}"
            )
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.layers = nn.ModuleList(
            TreeCell(cell, embedding_size if i == 0 else hidden_size, hidden_size, backend=backend)
            for i in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden_size, vocab_size)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        if tie_weights:
            self.decoder.weight = self.embedding.weight

    def init_state(self, batch_size: int) -> State:
        """Zero (h, c), each (num_layers, batch_size, H)."""
        zeros = self.decoder.weight.new_zeros(self.num_layers, batch_size, self.hidden_size)
        return zeros, zeros.clone()

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits (T, B, vocab_size) for ``tokens`` (T, B) of word indices, and the final state."""
        if state is None:
            state = self.init_state(tokens.shape[1])
        h0, c0 = state
        x = self.dropout(self.embedding(tokens))
        hs, cs = [], []
        for i, layer in enumerate(self.layers):
            x, (h, c) = layer(x, (h0[i], c0[i]))
            x = self.dropout(x)
            hs.append(h)
            cs.append(c)
        return self.decoder(x), (torch.stack(hs), torch.stack(cs))
