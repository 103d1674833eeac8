"""AutoML-Zero programs: JSON round trip, pretty printing, memory validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archsearch.errors import ConfigError
from archsearch.zero.ops import OPS
from archsearch.zero.program import COMPONENTS, Instruction, MemoryConfig, Program, sgd_linear_regression

SGD = sgd_linear_regression(0.2)


def test_pretty_prints_readable_python_like_code():
    assert SGD.pretty() == "\n".join(
        [
            "def setup():",
            "    s2 = 0.2",
            "def predict():  # in: v0 = features; out: s1 = prediction",
            "    s1 = dot(v0, v1)",
            "def learn():  # in: v0 = features, s0 = label, s1 = prediction",
            "    s3 = s0 - s1",
            "    s3 = s3 * s2",
            "    v2 = s3 * v0",
            "    v1 = v1 + v2",
        ]
    )
    assert Program().pretty().count("    pass") == 3


def test_pretty_prints_indices_random_ops_and_special_constants():
    program = Program(
        setup=(
            Instruction(58, in1=1, in2=2, out=0, data=(-0.5, 0.0)),
            Instruction(57, in1=3, out=1, data=(float("inf"), 0.0)),
            Instruction(63, out=2, data=(0.0, 0.1)),
        )
    )
    lines = program.pretty().splitlines()
    assert lines[1:4] == [
        "    m0[1, 2] = -0.5",
        "    v1[3] = float('inf')",
        "    v2 = normal(0.0, 0.1, size=F)",
    ]


def test_every_op_prints_with_its_addresses():
    for spec in OPS[1:]:
        text = Instruction(spec.code, 1, 2, 3, (1.5, 2.5)).pretty()
        assert text.startswith(("s3", "v3", "m3")), text
        assert "{" not in text


def test_json_round_trip_through_text_keeps_the_program():
    rng = np.random.default_rng(0)
    program = Program(
        *(
            tuple(
                Instruction(int(rng.integers(65)), 1, 2, 0, (float(rng.normal()), float(rng.normal())))
                for _ in range(n)
            )
            for n in (3, 0, 5)
        )
    )
    text = json.dumps(program.to_json())
    assert Program.from_json(json.loads(text)) == program
    assert Program.from_json(json.loads(json.dumps(SGD.to_json()))) == SGD
    assert SGD.to_json()["predict"][0]["name"] == "vector_inner_product"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "JSON object"),
        ({"setup": [], "train": []}, "unknown component"),
        ({"setup": {"op": 1}}, "list of instructions"),
        ({"setup": [{"in1": 1}]}, "op code"),
        ({"setup": [{"op": "add"}]}, "integers"),
        ({"setup": [{"op": 1, "data": [1.0]}]}, "two numbers"),
        ({"setup": [{"op": 1, "data": ["a", 1]}]}, "two numbers"),
    ],
)
def test_malformed_json_is_a_config_error(payload, message):
    with pytest.raises(ConfigError, match=message):
        Program.from_json(payload)


def test_validate_accepts_fitting_programs_and_names_the_bad_instruction():
    memory = MemoryConfig()
    memory.validate(SGD)
    with pytest.raises(ConfigError, match=r"learn\[2\].*out address v3 outside v0..v2"):
        memory.validate(Program(learn=SGD.learn[:2] + (Instruction(18, 3, 0, 3),)))
    with pytest.raises(ConfigError, match=r"setup\[0\].*op 65"):
        memory.validate(Program(setup=(Instruction(65),)))
    with pytest.raises(ConfigError, match=r"predict\[0\].*in1 address m1"):
        memory.validate(Program(predict=(Instruction(37, 1, 0, 0),)))
    with pytest.raises(ConfigError, match=r"index in2=4 outside 0..3"):
        memory.validate(Program(setup=(Instruction(58, 0, 4, 0),)))
    # Addresses an op does not read are free (OP56 ignores in1/in2).
    memory.validate(Program(setup=(Instruction(56, 99, -1, 0),)))


def test_memory_config_rejects_sizes_without_the_fixed_addresses():
    assert (MemoryConfig().scalars, MemoryConfig().vectors, MemoryConfig().matrices, MemoryConfig().dim) == (
        4,
        3,
        1,
        4,
    )
    for kwargs, message in [
        ({"scalars": 1}, "at least 2 scalars"),
        ({"vectors": 0}, "at least 1 vector"),
        ({"matrices": -1}, "matrices"),
        ({"dim": 0}, "dim"),
        ({"dim": 2.5}, "integer"),
    ]:
        with pytest.raises(ConfigError, match=message):
            MemoryConfig(**kwargs)


def test_components_and_sizes():
    assert COMPONENTS == ("setup", "predict", "learn")
    assert SGD.size() == 6 and SGD.component("learn") == SGD.learn
    with pytest.raises(ConfigError, match="unknown component"):
        SGD.component("train")


def test_live_mask_marks_dead_instructions():
    program = Program(
        setup=SGD.setup + (Instruction(56, out=3, data=(9.0, 0.0)),),  # s3 is overwritten in Learn first
        predict=(Instruction(13, 2, 0, 0),) + SGD.predict,  # s0 = exp(s2): the harness resets s0 first
        learn=SGD.learn + (Instruction(21, 1, 0, 0), Instruction(0)),  # s0 = norm(v1): never read; no-op
    )
    assert program.live_mask.tolist() == [1, 0, 0, 1, 1, 1, 1, 1, 0, 0]
    assert program.pruned() == SGD
    assert SGD.live_mask.all()


def test_live_mask_follows_memory_across_learn_and_partial_writes():
    program = Program(
        setup=(
            Instruction(57, in1=0, out=1, data=(2.0, 0.0)),
            Instruction(57, in1=1, out=1, data=(3.0, 0.0)),
        ),
        predict=(Instruction(27, 0, 1, 1),),  # s1 = dot(v0, v1): both partial writes of v1 are live
        learn=(Instruction(1, 2, 2, 3), Instruction(1, 3, 3, 2)),  # s3, s2 feed nothing Predict reads
    )
    assert program.live_mask.tolist() == [1, 1, 1, 0, 0]
    counter = Program(predict=(Instruction(1, 2, 3, 1),), learn=(Instruction(1, 2, 0, 2),))  # s2 += s0
    assert counter.live_mask.tolist() == [1, 1]


def test_random_ops_stay_when_any_random_op_is_live():
    dead_draw = Instruction(63, out=2, data=(0.0, 1.0))  # v2 never read
    live_draw = Instruction(63, out=1, data=(0.0, 1.0))  # v1 read by Predict
    predict = (Instruction(27, 0, 1, 1),)
    assert Program(setup=(dead_draw, live_draw), predict=predict).live_mask.tolist() == [1, 1, 1]
    assert Program(setup=(dead_draw,), predict=predict).live_mask.tolist() == [0, 1]
