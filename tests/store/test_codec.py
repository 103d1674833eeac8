"""The stored state format: exact round trips, and nothing in a blob can run code."""

from __future__ import annotations

import io
import math
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from archsearch.store.codec import (
    MAGIC,
    LegacyStateError,
    StateFormatError,
    decode_state,
    encode_state,
    is_legacy,
)


def _same(a: Any, b: Any) -> None:
    """Equal values of equal types, recursively (dtype, shape, device and tuple versus list included)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True):
            _same(ka, kb)
            _same(va, vb)
        assert getattr(a, "_metadata", None) == getattr(b, "_metadata", None)
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, torch.Tensor):
        assert (a.dtype, a.shape, a.device, a.requires_grad) == (b.dtype, b.shape, b.device, b.requires_grad)
        if a.numel():
            bits = [t.detach().contiguous().reshape(-1).view(torch.uint8) for t in (a, b)]
            assert torch.equal(*bits)
    elif isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape)
        assert a.tobytes() == b.tobytes()
        assert b.flags.writeable
    elif isinstance(a, float | np.floating) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b
        if isinstance(a, float):
            assert math.copysign(1.0, a) == math.copysign(1.0, b)  # -0.0 stays -0.0


def _roundtrip(state: Any) -> Any:
    blob = encode_state(state)
    assert blob.startswith(MAGIC)
    back = decode_state(blob)
    _same(state, back)
    return back


def test_python_values_round_trip_exactly() -> None:
    _roundtrip(
        {
            "none": None,
            "flags": [True, False],
            "ints": [0, -1, 2**63 - 1, -(2**63), 2**64, -(2**200) + 7, 10**1000],
            "floats": (0.1, -0.0, 1e-310, 1e308, math.inf, -math.inf, math.nan, 1.0),
            "text": 'naïve \udc80 "quoted" {m}',
            "bytes": [b"", b"\x00\x80\xff" * 5],
            "nested": {"t": (1, [2, (3,)]), "empty": ((), [], {})},
        }
    )


def test_dict_key_types_and_order_are_kept() -> None:
    _roundtrip({3: "three", 1: "one", "x": 2, (1, "a"): None, -5: [1], 2**70: 0.5, None: 1, False: 0})
    _roundtrip({"b": 1, "a": 2, "m": {"t": 3}, "o": 4})  # keys that are the format's own tags


def test_ordered_dict_keeps_module_metadata() -> None:
    module = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    state = module.state_dict()
    back = _roundtrip(state)
    assert isinstance(back, OrderedDict) and back._metadata == state._metadata
    torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3)).load_state_dict(back)


@pytest.mark.parametrize(
    "dtype",
    [np.float64, np.float32, np.float16, np.int8, np.int64, np.uint8, np.uint64, np.bool_, np.complex128],
)
def test_numpy_arrays_and_scalars_round_trip(dtype: Any) -> None:
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4)) * 100).astype(dtype)
    _roundtrip({"a": array, "empty": np.zeros((0, 5), dtype), "scalar": array.reshape(-1)[3]})
    _roundtrip(array.T)  # not contiguous


def test_numpy_other_plain_dtypes_round_trip() -> None:
    _roundtrip(
        [
            np.array(["ab", "c"]),
            np.array([b"xy"]),
            np.array(["2020-01-01"], dtype="datetime64[ns]"),
            np.array([1, 2], dtype=">i4"),
            np.float64(-0.0),
            np.int32(7),
        ]
    )


@pytest.mark.parametrize(
    "dtype",
    [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.uint8, torch.bool]
    + [torch.complex64, torch.float8_e4m3fn],
)
def test_torch_tensors_of_every_dtype_round_trip(dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(2, 3, 4, generator=generator) * 10
    tensor = values.to(dtype) if dtype != torch.complex64 else torch.complex(values, -values)
    _roundtrip(
        {
            "t": tensor,
            "slice": tensor[:, 1],  # a view of a bigger storage
            "transposed": tensor.transpose(0, 2),
            "scalar": tensor[0, 0, 0].clone(),
            "empty": torch.zeros(0, 3, dtype=dtype),
        }
    )


def test_tensor_flags_and_parameters_are_kept() -> None:
    weight = torch.nn.Parameter(torch.ones(2))
    back = _roundtrip({"p": weight, "g": torch.zeros(3, requires_grad=True)})
    assert isinstance(back["p"], torch.nn.Parameter)


def test_generator_and_optimizer_states_restore_the_same_stream() -> None:
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    generator = torch.Generator().manual_seed(3)
    state = {
        "opt": optimizer.state_dict(),
        "gen": generator.get_state(),
        "np": np.random.default_rng(5).bit_generator.state,
        "mt": np.random.RandomState(5).get_state(),
    }
    back = _roundtrip(state)
    restored = torch.Generator()
    restored.set_state(back["gen"])
    assert torch.equal(torch.rand(5, generator=restored), torch.rand(5, generator=generator))
    rng = np.random.default_rng()
    rng.bit_generator.state = back["np"]
    assert rng.random() == np.random.default_rng(5).random()
    twin = torch.optim.Adam(torch.nn.Linear(3, 1).parameters(), lr=0.1)
    twin.load_state_dict(back["opt"])


@pytest.mark.parametrize(
    "value",
    [
        object(),
        {1, 2},
        np.array([object()]),
        np.zeros(2, dtype=[("a", "i4")]),
        torch.zeros(2).to_sparse(),
        bytearray(b"x"),
        Path("x"),
    ],
)
def test_unsupported_values_are_refused_when_encoding(value: Any) -> None:
    with pytest.raises(TypeError, match=r"state value at \['x'\]"):
        encode_state({"x": value})


class _Payload:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (open, (str(self.path), "w"))


def test_a_pickled_payload_is_refused_and_never_run(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    pickled = pickle.dumps({"state": _Payload(target)})
    buffer = io.BytesIO()
    torch.save({"state": _Payload(target)}, buffer)
    for blob in (pickled, buffer.getvalue()):
        assert is_legacy(blob)
        with pytest.raises(LegacyStateError):
            decode_state(blob)
    assert not target.exists()


def test_corrupt_blobs_raise_state_format_error() -> None:
    blob = encode_state({"a": np.arange(10), "b": [1, 2]})
    header_end = blob.index(b"}}") + 2
    for bad in (
        b"",
        b"not a state",
        MAGIC,
        blob[: len(blob) // 2],
        blob[:header_end] + b"",  # data section lost
        blob.replace(b'"a":', b'"a":{"zz":1},"q":'),
        MAGIC + (30).to_bytes(8, "little") + b'{"a":[0,99],"dtype":"|O","shape":[1]}',  # object dtype
        MAGIC + (38).to_bytes(8, "little") + b'{"pt":[0,0],"dtype":"str","shape":[1]}',
        MAGIC + (10).to_bytes(8, "little") + b"[" * 10,
    ):
        with pytest.raises(StateFormatError):
            decode_state(bad)


def _crafted(header: bytes) -> bytes:
    return MAGIC + len(header).to_bytes(8, "little") + header


@pytest.mark.parametrize(
    "bad",
    [
        _crafted(b'{"a":[0,0],"dtype":"<f8","shape":[1180591620717411303424]}'),  # 2**70 elements
        _crafted(b'{"pt":[0,4],"dtype":"float32","shape":[1],"device":"privateuseone"}') + b"\0" * 4,
        _crafted(b'{"pt":[0,4],"dtype":"float32","shape":[1],"device":"meta"}') + b"\0" * 4,
        "a text column",
        2**33,  # an INTEGER column: never a multi-GB bytes(n)
        1.5,
    ],
    ids=["huge-shape", "odd-device", "meta-device", "text", "integer", "real"],
)
def test_crafted_states_of_any_kind_are_refused_as_corrupt(bad) -> None:
    with pytest.raises(StateFormatError):
        decode_state(bad)
