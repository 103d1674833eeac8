"""The stored form of a state tree (checkpoints of strategies, one-shot runs, AutoML-Zero islands).

Decoding must never run code: run directories are shared, and a crafted database must not execute
anything when it is opened. The format is therefore data only, in the manner of safetensors:

    MAGIC | header length (8 bytes, little endian) | header (ASCII JSON) | raw data

The header is the tree itself; containers and numbers are JSON, and each leaf that JSON cannot hold
exactly is a tagged object (``{"t": [...]}`` a tuple, ``{"a": [offset, size], ...}`` an array whose
bytes lie in the data section). Types are rebuilt from a fixed table, never from a name read from the
data, and arrays of Python objects are refused both ways. Round trips are exact (dtypes, shapes, tuple
versus list, integer keys, -0.0, integers of any size), because a resumed search must continue the
uninterrupted trajectory bit for bit.

Supported: dict (keys of any supported hashable kind; key order kept), ``OrderedDict`` (with the
``_metadata`` that ``torch.nn.Module.state_dict`` attaches), list, tuple, str, int, float (nan, inf),
bool, None, bytes, numpy arrays and scalars of non-object dtypes, torch tensors of any dtype
(bfloat16 and float8 included; device and ``requires_grad`` kept; ``nn.Parameter`` kept).
"""

from __future__ import annotations

import functools
import json
import math
import struct
import sys
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

from archsearch.errors import StoreError

if TYPE_CHECKING:
    import torch

MAGIC = b"archsearch-state/1\n"
_LENGTH = struct.Struct("<Q")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_TORCH_DTYPE_NAMES = (
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex32",
    "complex64",
    "complex128",
    "float8_e4m3fn",
    "float8_e4m3fnuz",
    "float8_e5m2",
    "float8_e5m2fnuz",
)


@functools.cache
def _torch_dtypes() -> dict[str, torch.dtype]:
    """The tensor dtypes a state may hold, by name (torch is imported only for states with tensors)."""
    import torch

    return {
        name: dtype
        for name in _TORCH_DTYPE_NAMES
        if isinstance(dtype := getattr(torch, name, None), torch.dtype)
    }


class StateFormatError(StoreError):
    """A stored state cannot be decoded: corrupt, or not in archsearch's state format."""


class LegacyStateError(StateFormatError):
    """A stored state written by an earlier archsearch as a pickle (``torch.save``); never unpickled."""


def is_legacy(blob: bytes) -> bool:
    """Whether ``blob`` is a state of an earlier archsearch: a torch zip file or a pickle (protocol 2+)."""
    return blob[:4] == b"PK\x03\x04" or blob[:1] == b"\x80"


def encode_state(state: Any) -> bytes:
    """``state`` (a tree of the supported types) as bytes; TypeError names the first unsupported value."""
    data: list[bytes | memoryview] = []  # views of the arrays: joined once at the end, never copied before
    size = [0]

    def put(raw: bytes | memoryview) -> list[int]:
        where = [size[0], raw.nbytes if isinstance(raw, memoryview) else len(raw)]
        data.append(raw)
        size[0] += where[1]
        return where

    def node(value: Any, path: str) -> Any:
        kind = type(value)
        if value is None or kind is bool or kind is str:
            return value
        if kind is int:
            return value if _INT64_MIN <= value <= _INT64_MAX else {"i": hex(value)}
        if kind is float:
            return value
        if kind is list:
            return [node(item, f"{path}[{i}]") for i, item in enumerate(value)]
        if kind is tuple:
            return {"t": [node(item, f"{path}[{i}]") for i, item in enumerate(value)]}
        if kind is dict or kind is OrderedDict:
            encoded: dict[str, Any]
            if all(type(key) is str for key in value):
                encoded = {"m": {key: node(item, f"{path}[{key!r}]") for key, item in value.items()}}
            else:
                encoded = {
                    "d": [
                        [node(key, f"{path} key"), node(item, f"{path}[{key!r}]")]
                        for key, item in value.items()
                    ]
                }
            if kind is OrderedDict:
                encoded["o"] = node(getattr(value, "_metadata", None), f"{path}._metadata")
            return encoded
        if kind is bytes:
            return {"b": put(value)}
        if kind is np.ndarray:
            dtype = _numpy_dtype(value.dtype, path)
            return {
                "a": put(np.ascontiguousarray(value).reshape(-1).view(np.uint8).data),
                "dtype": dtype,
                "shape": list(value.shape),
            }
        if isinstance(value, np.generic):
            dtype = _numpy_dtype(value.dtype, path)
            return {"n": put(np.asarray(value).tobytes()), "dtype": dtype}
        torch = sys.modules.get("torch")  # without torch loaded no value can be a tensor
        if torch is not None and (kind is torch.Tensor or kind is torch.nn.Parameter):
            return _tensor_node(value, path, put)
        raise TypeError(
            f"state value at {path or 'the root'} is a {kind.__module__}.{kind.__qualname__}, which is not storable"
        )

    header = json.dumps(node(state, ""), separators=(",", ":")).encode("ascii")
    return b"".join([MAGIC, _LENGTH.pack(len(header)), header, *data])


def decode_state(blob: bytes) -> Any:
    """The state ``encode_state`` wrote; StateFormatError (LegacyStateError for an old pickle) otherwise.

    Only JSON parsing and buffer copies happen here: nothing in ``blob`` can name code to run."""
    if not isinstance(blob, bytes | bytearray | memoryview):  # e.g. a TEXT or INTEGER column of a crafted db
        raise StateFormatError(f"the state is {type(blob).__name__}, not bytes")
    blob = bytes(blob)
    if not blob.startswith(MAGIC):
        if is_legacy(blob):
            raise LegacyStateError("the state was written by an earlier archsearch (pickle); it is not read")
        raise StateFormatError("the state is not in archsearch's state format")
    try:
        start = len(MAGIC) + _LENGTH.size
        (length,) = _LENGTH.unpack_from(blob, len(MAGIC))
        if start + length > len(blob):
            raise ValueError("header runs past the end")
        tree = json.loads(blob[start : start + length].decode("ascii"))
        return _Decoder(memoryview(blob)[start + length :]).node(tree)
    except StateFormatError:
        raise
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        RecursionError,
        RuntimeError,
        OverflowError,
        MemoryError,
        struct.error,
    ) as exc:
        raise StateFormatError(f"the state is corrupt ({type(exc).__name__}: {exc})") from None


def _is_plain(dtype: np.dtype[Any]) -> bool:
    """Numbers, booleans, strings, bytes, dates: no Python objects, no structured records."""
    return not (dtype.hasobject or dtype.fields is not None or dtype.kind == "V")


def _numpy_dtype(dtype: np.dtype[Any], path: str) -> str:
    if not _is_plain(dtype):
        raise TypeError(f"state value at {path or 'the root'} has numpy dtype {dtype}, which is not storable")
    return str(dtype.str)


def _tensor_node(value: torch.Tensor, path: str, put: Any) -> dict[str, Any]:
    import torch

    names = {dtype: name for name, dtype in _torch_dtypes().items()}
    if value.layout != torch.strided or value.is_quantized or value.dtype not in names:
        raise TypeError(
            f"state value at {path or 'the root'} is a {value.dtype} {value.layout} tensor, not storable"
        )
    flat = value.detach().resolve_conj().resolve_neg().to("cpu").contiguous().reshape(-1)
    raw = b"" if flat.numel() == 0 else flat.view(torch.uint8).numpy().data
    encoded: dict[str, Any] = {
        "pt": put(raw),
        "dtype": names[value.dtype],
        "shape": list(value.shape),
        "device": str(value.device),
    }
    if value.requires_grad:
        encoded["grad"] = True
    if type(value) is torch.nn.Parameter:
        encoded["param"] = True
    return encoded


class _Decoder:
    """Rebuilds the tree of a header over its data section."""

    def __init__(self, data: memoryview) -> None:
        self.data = data

    def raw(self, where: Any) -> memoryview:
        """A view of the bytes ``where`` ([offset, size]) names in the data section (callers copy)."""
        offset, size = where
        if type(offset) is not int or type(size) is not int or offset < 0 or size < 0:
            raise ValueError(f"bad buffer reference {where!r}")
        if offset + size > len(self.data):
            raise ValueError("a buffer runs past the end")
        return self.data[offset : offset + size]

    def node(self, tree: Any) -> Any:
        if tree is None or isinstance(tree, bool | int | float | str):
            return tree
        if isinstance(tree, list):
            return [self.node(item) for item in tree]
        if not isinstance(tree, dict):
            raise ValueError(f"unexpected node {tree!r:.80}")
        if "m" in tree:
            pairs = [(key, self.node(item)) for key, item in tree["m"].items()]
            return self.mapping(pairs, tree)
        if "d" in tree:
            pairs = [(self.node(key), self.node(item)) for key, item in tree["d"]]
            return self.mapping(pairs, tree)
        if "t" in tree:
            return tuple(self.node(item) for item in tree["t"])
        if "i" in tree:
            return int(tree["i"], 16)
        if "b" in tree:
            return bytes(self.raw(tree["b"]))
        if "a" in tree:
            dtype = _checked_numpy_dtype(tree["dtype"])
            shape = tuple(_dimension(n) for n in tree["shape"])
            array = np.frombuffer(self.raw(tree["a"]), dtype=dtype, count=math.prod(shape))
            return array.reshape(shape).copy()  # a writable array of its own
        if "n" in tree:
            dtype = _checked_numpy_dtype(tree["dtype"])
            return np.frombuffer(self.raw(tree["n"]), dtype=dtype, count=1)[0]
        if "pt" in tree:
            return self.tensor(tree)
        raise ValueError(f"unknown node tag in {sorted(tree)!r:.80}")

    def mapping(self, pairs: list[tuple[Any, Any]], tree: dict[str, Any]) -> dict[Any, Any]:
        if "o" not in tree:
            return dict(pairs)
        ordered: OrderedDict[Any, Any] = OrderedDict(pairs)
        metadata = self.node(tree["o"])
        if metadata is not None:
            ordered._metadata = metadata  # type: ignore[attr-defined]
        return ordered

    def tensor(self, tree: dict[str, Any]) -> torch.Tensor:
        import torch

        dtype = _torch_dtypes()[tree["dtype"]]
        shape = tuple(_dimension(n) for n in tree["shape"])
        raw = self.raw(tree["pt"])
        count = math.prod(shape)
        itemsize = torch.empty((), dtype=dtype).element_size()
        if raw.nbytes != count * itemsize:
            raise ValueError(f"tensor of shape {shape} and {tree['dtype']} has {raw.nbytes} bytes")
        if count == 0:
            tensor = torch.empty(shape, dtype=dtype)
        else:
            tensor = torch.from_numpy(np.frombuffer(raw, dtype=np.uint8).copy()).view(dtype).reshape(shape)
        device = tree["device"]
        if not isinstance(device, str):
            raise ValueError(f"bad device {device!r}")
        if device != "cpu" and not device.startswith("cuda"):
            raise ValueError(f"bad device {device!r}")  # only CPU and CUDA states are written
        target = torch.device(device)
        if target.type == "cuda" and torch.cuda.is_available():
            tensor = tensor.to(target)  # as torch.load would; a CUDA state read without CUDA stays on the CPU
        if tree.get("param"):
            return torch.nn.Parameter(tensor, requires_grad=bool(tree.get("grad")))
        if tree.get("grad"):
            tensor.requires_grad_(True)
        return tensor


def _checked_numpy_dtype(name: Any) -> np.dtype[Any]:
    if not isinstance(name, str):
        raise ValueError(f"bad dtype {name!r}")
    dtype = np.dtype(name)
    if not _is_plain(dtype):
        raise ValueError(f"dtype {name!r} is not allowed")
    return dtype


def _dimension(n: Any) -> int:
    if type(n) is not int or n < 0:
        raise ValueError(f"bad dimension {n!r}")
    return n
