"""The response encoder: database-written JSON goes out as it is, everything else as
json.dumps writes it (compact, UTF-8), and nothing a client sends can pass for the former."""

from __future__ import annotations

import json

import pytest

from graph.response_json import RawJson, encode_response


def test_raw_json_is_written_as_it_is_among_encoded_values() -> None:
    data = {"data": {"a": RawJson('{"name":"Thành ủy","n":[1,2]}'), "b": ["é", None, 1.5]}}
    encoded = encode_response(data)
    assert encoded == '{"data":{"a":{"name":"Thành ủy","n":[1,2]},"b":["é",null,1.5]}}'
    assert json.loads(encoded) == {
        "data": {"a": {"name": "Thành ủy", "n": [1, 2]}, "b": ["é", None, 1.5]}
    }


def test_without_raw_json_it_is_json_dumps_compact_and_utf8() -> None:
    data = {"errors": [{"message": 'a "quote"\n\u0001\u2028', "path": ["x", 0]}]}
    assert encode_response(data) == json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def test_a_string_like_the_marker_stays_a_string() -> None:
    """The marker is a NUL and a fresh random token: a client's NUL and digits are text."""
    sneaky = "\u00000\u00001"
    encoded = encode_response({"a": sneaky, "b": RawJson("[]")})
    assert json.loads(encoded) == {"a": sneaky, "b": []}


def test_other_objects_are_refused() -> None:
    with pytest.raises(TypeError):
        encode_response({"a": object()})
