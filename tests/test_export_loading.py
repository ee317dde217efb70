"""Reading exports fast without changing what the rules see: one decode, numbers as doubles,
per-resource marker flags, equal outputs sharing the inputs' objects, the collector left as found."""

from __future__ import annotations

import copy
import gc
import json
from pathlib import Path
from typing import Any

import pytest

from ack_alluxio_training.offline.policy_runner import UNKNOWN_VALUE, evaluate, load_export
from ack_alluxio_training.offline.policy_runner.resources import collector_paused, decode_export, marker_positions
from tests.fixtures.policies.examples import FIXTURES, export

SIGNATURE = "4dabf18193072939515e22adb298388d"
SECRET = "1b47061264138c4ac30d75fd1eb44270"


def _naive(text: str) -> list[dict[str, Any]]:
    return [r for r in json.loads(text, parse_int=float)["deployment"]["resources"] if not r.get("delete")]


def _write(tmp_path: Path, document: Any, name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=1))
    return path


@pytest.mark.parametrize("name", ["good-stack.json", "misconfigured-stack.json", "fluid-stack.json"])
def test_loaded_resources_equal_a_plain_decode(name: str) -> None:
    text = (FIXTURES / name).read_text()
    loaded = load_export(FIXTURES / name)
    naive = _naive(text)
    assert [r.urn for r in loaded] == [r["urn"] for r in naive]
    for resource, raw in zip(loaded, naive, strict=True):
        assert resource.inputs == raw.get("inputs", {}) and resource.outputs == raw.get("outputs", {})
        assert resource.plain == (SIGNATURE not in json.dumps(raw) and UNKNOWN_VALUE not in json.dumps(raw))
    numbers = [v for r in loaded for v in json.loads(json.dumps(r.inputs, default=str), parse_int=lambda _: "int")
               .values() if v == "int"]
    assert numbers == []  # every number a double, as the analyzer's Struct has them


def test_only_the_resources_holding_markers_lose_the_plain_flag(tmp_path: Path) -> None:
    document = export("good-stack.json")
    items = document["deployment"]["resources"]
    items[3].setdefault("inputs", {})["secretish"] = {SIGNATURE: SECRET, "ciphertext": "v1:abc"}
    items[5].setdefault("inputs", {})["later"] = UNKNOWN_VALUE
    items[6].setdefault("inputs", {})["mentions"] = f"not unknown: {UNKNOWN_VALUE}"
    loaded = load_export(_write(tmp_path, document))
    flags = {r.urn: r.plain for r in loaded}
    assert not flags[items[3]["urn"]] and not flags[items[5]["urn"]]
    assert flags[items[6]["urn"]] and flags[items[4]["urn"]]
    config = {"all": "mandatory"}
    assert ({(v.policy, v.urn, v.message) for v in evaluate(loaded, config).violations}
            == {(v.policy, v.urn, v.message) for v in evaluate(loaded, config, fast=False).violations})


def test_other_layouts_fall_back_to_one_whole_decode(tmp_path: Path) -> None:
    document = export("good-stack.json")
    # a "resources" key before the deployment's, and a marker somewhere
    document = {"aaa": {"resources": [1, 2]}, **document}
    document["deployment"]["resources"][2].setdefault("inputs", {})["x"] = {SIGNATURE: SECRET, "value": "1"}
    text = json.dumps(document)
    decoded, loaded = decode_export(text)
    assert decoded == json.loads(text, parse_int=float)
    assert [r.urn for r in loaded] == [r["urn"] for r in _naive(text)]
    assert not any(r.plain for r in loaded)  # the whole-decode fallback cannot tell, so checks each


def test_equal_outputs_share_the_inputs_objects(tmp_path: Path) -> None:
    document = export("good-stack.json")
    release = next(r for r in document["deployment"]["resources"] if r["type"].endswith("helm.sh/v3:Release"))
    release["outputs"] = {**copy.deepcopy(release["inputs"]), "status": {"status": "deployed"}}
    loaded = {r.urn: r for r in load_export(_write(tmp_path, document))}[release["urn"]]
    assert loaded.outputs["values"] is loaded.inputs["values"]
    assert loaded.outputs["status"] == {"status": "deployed"}


def test_marker_positions_need_whole_sentinel_strings() -> None:
    text = json.dumps({"a": UNKNOWN_VALUE, "b": "x" + UNKNOWN_VALUE, SIGNATURE: 1,
                       "c": "12345678-1234-1234-1234-123456789012"})
    assert marker_positions(text) == [text.index(f'"{UNKNOWN_VALUE}"'), text.index(SIGNATURE)]


def test_the_collector_is_restored_and_not_left_to_rescan(tmp_path: Path) -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        load_export(FIXTURES / "good-stack.json")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("chunk", [7, 1000, 2**23])
def test_streamed_files_read_like_the_whole_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    from ack_alluxio_training.offline.policy_runner import resources as reading

    document = export("good-stack.json")
    document["deployment"]["resources"][4].setdefault("inputs", {})["note"] = "naïve ünïcode across chunks"
    path = _write(tmp_path, document)
    monkeypatch.setattr(reading, "_CHUNK", chunk)
    streamed_document, streamed = reading.read_export(path)
    whole_document, whole = decode_export(path.read_text())
    assert streamed_document == whole_document
    assert [(r.urn, r.inputs, r.outputs, r.plain) for r in streamed] == [
        (r.urn, r.inputs, r.outputs, r.plain) for r in whole]


def test_a_broken_stream_is_a_json_error(tmp_path: Path) -> None:
    from ack_alluxio_training.offline.policy_runner import ExportError

    path = tmp_path / "broken.json"
    path.write_text('{"deployment": {"resources": [{"urn": "a", "type": "t"}, {"urn": ')
    with pytest.raises(ExportError, match="not valid JSON"):
        load_export(path)
