"""The one output layer's JSON: the same text as the standard library's encoder."""

import json
import math
import random
from datetime import datetime, timezone
from enum import IntEnum

from mopstool.output import dumps_json, jsonable


class Flag(IntEnum):
    ON = 1


def _value(rng: random.Random, depth: int):
    """A random JSON-able value: scalars of every kind (quotes, newlines, non-ASCII,
    floats in exponent form), empty and nested containers, tuples and odd types."""
    pick = rng.random()
    if depth > 3 or pick < 0.5:
        return rng.choice([
            None, True, False, 0, -7, 2 ** 70, 1.5, -0.0, 1e-7, 1.2345678901234567e300, float("nan"),
            "", "plain", 'quo"te\\', "line\nbreak\ttab", "non-ASCII: é ∆ 🌟", "\x00\x1f",
            Flag.ON, datetime(2026, 12, 1, 3, 4, 5, tzinfo=timezone.utc), b"bytes",
        ])
    n = rng.randrange(0, 5)
    if pick < 0.75:
        return {rng.choice(["a", "b", "key with space", "ü", "x\ny", "", "k" * 30]) + str(i):
                _value(rng, depth + 1) for i in range(n)}
    if pick < 0.9:
        return [_value(rng, depth + 1) for _ in range(n)]
    return tuple(_value(rng, depth + 1) for _ in range(n))


def test_indented_json_is_the_standard_encoders_text():
    rng = random.Random(20261201)
    for _ in range(3000):
        value = _value(rng, 0)
        expect = json.dumps(jsonable(value), indent=2, ensure_ascii=False)
        assert dumps_json(value) == expect
        assert dumps_json(value, indent=None) == json.dumps(jsonable(value), ensure_ascii=False)


def test_indented_json_of_result_rows_and_shapes():
    rows = [{"name": f"{i}_1_w_img", "fault": 0 if i % 3 else 23, "ra": 150.0 + i / 7, "ok": i % 2 == 0,
             "message": None, "planes": ["image", "mask"], "nested": {"x": i, "y": [], "z": {}}}
            for i in range(50)]
    for value in (rows, rows[0], [], {}, [[]], [{}], {"a": [1, [2, [3, {}]]]}, "x", 3, None,
                  {"n": float("inf"), "m": math.nan}, [Flag.ON, {"f": Flag.ON}], {1: "int key"}):
        assert dumps_json(value) == json.dumps(jsonable(value), indent=2, ensure_ascii=False), value
    assert dumps_json({"n": float("inf")}) == '{\n  "n": null\n}'      # jsonable's NaN/inf rule stays
