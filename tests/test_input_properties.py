"""Property tests: however a stack file is mutated, the answer is a clean refusal or a plan.

The corpus in test_bad_input_corpus.py pins the cases found by hand; these generate their own:
values of every type and size put anywhere in a real stack's config, keys removed or added, and
raw text edits of a stack file. The properties: the settings either validate or raise a
SettingsError whose every line names an ``ack-alluxio-training:`` key; the loader either reads the
file or names the file; the plan command ends in 0, 1 or 2 (never 3, never a traceback); nothing
runs long (each example is bounded by an alarm, generation by max_examples).
"""

from __future__ import annotations

import copy
import signal
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ack_alluxio_training.offline.plan import main as plan_main
from ack_alluxio_training.offline.stack_config import (
    STACKS_DIR,
    StackFileError,
    config_from_mapping,
    read_stack_file,
)
from ack_alluxio_training.settings import PROJECT, SettingsError, settings_from_config

EXAMPLE_TIME_LIMIT_SECONDS = 30
STACKS = ("dev", "staging", "prod")
BOUNDED = settings(
    max_examples=150,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)

#: Values that broke or slipped through before, mixed into the generated ones.
NASTY_VALUES = [
    "9" * 40,
    "1e999999999",
    "\u0664\u0660Gi",
    "2.9.5\n",
    "/etc",
    "/dev/shm/../../etc",
    "../../x",
    "",
    " ",
    "evil image",
    "10.0.0.0/33",
    "-1",
    "0",
    "null",
    "{not json",
    "[1, 2",
    10**30,
    -(10**30),
    float("inf"),
    float("-inf"),
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(NASTY_VALUES),
    st.lists(st.one_of(st.integers(), st.text(max_size=10)), max_size=4),
    st.dictionaries(st.text(max_size=12), st.one_of(st.integers(), st.text(max_size=10)), max_size=3),
)


def stack_config_mapping(stack: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    return config


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside a config mapping (dict keys and list indices)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from paths(item, (*prefix, index))


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A real stack's config with one to three values replaced, removed or added beside."""
    config = copy.deepcopy(stack_config_mapping(draw(st.sampled_from(STACKS))))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        where = draw(st.sampled_from(sorted(paths(config), key=repr)))
        parent: Any = config
        for part in where[:-1]:
            parent = parent[part]
        operation = draw(st.sampled_from(["replace", "remove", "add"]))
        if operation == "replace":
            parent[where[-1]] = draw(VALUES)
        elif operation == "remove":
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=20))] = draw(VALUES)
        else:
            parent.append(draw(VALUES))
        if not config:
            break
    return config


@pytest.fixture
def time_limit() -> Iterator[None]:
    def expired(*_: object) -> None:
        raise TimeoutError(f"one example ran longer than {EXAMPLE_TIME_LIMIT_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expired)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _validated(config: dict[str, Any]) -> None:
    """Validate one config map; a refusal must name a key on every line."""
    signal.alarm(EXAMPLE_TIME_LIMIT_SECONDS)
    try:
        stack = config_from_mapping("test", config)
        settings_from_config(stack.values, stack.secret_keys)
    except SettingsError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.startswith(f"{PROJECT}:"), problem
    finally:
        signal.alarm(0)


@BOUNDED
@given(config=mutated_configs())
@pytest.mark.usefixtures("time_limit")
def test_any_mutated_config_is_valid_or_refused_naming_a_key(config: dict[str, Any]) -> None:
    _validated(config)


TEXT_EDITS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4000),
        st.integers(min_value=0, max_value=20),
        st.one_of(st.text(max_size=20), st.sampled_from(["\t", ":", "- ", "&a", "*a", "!!python/name:os", "\xff",
                                                          "{", "[", "  dup: 1\n  dup: 2\n", "? [1]\n: x\n"])),
    ),
    min_size=1,
    max_size=4,
)


@BOUNDED
@given(stack=st.sampled_from(STACKS), edits=TEXT_EDITS)
@pytest.mark.usefixtures("time_limit")
def test_any_edited_stack_file_is_read_or_refused_naming_the_file(
    stack: str, edits: list[tuple[int, int, str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    text = (STACKS_DIR / f"Pulumi.{stack}.yaml").read_text()
    for position, removed, inserted in edits:
        at = position % (len(text) + 1)
        text = text[:at] + inserted + text[at + removed :]
    path = tmp_path_factory.mktemp("edited") / "Pulumi.edited.yaml"
    # "\xff" stands for a raw 0xff byte: the file is then not UTF-8.
    path.write_bytes(text.encode("utf-8", errors="replace").replace("\xff".encode(), b"\xff"))
    signal.alarm(EXAMPLE_TIME_LIMIT_SECONDS)
    try:
        config = read_stack_file(path)
    except StackFileError as error:
        assert all(problem.startswith("Pulumi.edited.yaml") for problem in error.problems), error.problems
        return
    finally:
        signal.alarm(0)
    _validated(config)


@settings(
    max_examples=8,
    deadline=None,  # a valid example runs the whole program (about a second, more on a busy machine)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(config=mutated_configs())
@pytest.mark.usefixtures("time_limit")
def test_the_plan_command_ends_in_0_1_or_2_without_a_traceback(
    config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path_factory.mktemp("stack")
    (folder / "Pulumi.mutated.yaml").write_text(yaml.safe_dump({"config": config}, allow_unicode=True))
    signal.alarm(EXAMPLE_TIME_LIMIT_SECONDS * 4)
    try:
        code = plan_main(["--stack", "mutated", "--stacks-dir", str(folder), "--out", str(folder / "out")])
    finally:
        signal.alarm(0)
    captured = capsys.readouterr()
    assert code in (0, 1, 2), captured.err[-2000:]
    assert "Traceback" not in captured.err + captured.out
    if code == 2:
        assert f"{PROJECT}:" in captured.err or "Pulumi.mutated.yaml" in captured.err, captured.err[-2000:]


def test_the_generators_reach_every_stack_key() -> None:
    """The mutations can touch every top-level key of every stack (so no section goes untested)."""
    for stack in STACKS:
        config = stack_config_mapping(stack)
        top = {path[0] for path in paths(config)}
        assert top == set(config)

