"""The offline runner: the CLI's config and level rules, unknown and secret values, remediation,
the mock engine's resources, input shapes, and the guard on the fast path (the verdicts themselves
are compared with the served pack in test_policy_parity.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ack_alluxio_training.offline.policy_runner import (
    UNKNOWN_VALUE,
    ExportError,
    PolicyConfigError,
    PolicyRunner,
    direct,
    evaluate,
    load_export,
    parse_policy_config,
    resolve_policy_config,
    resources_from_export,
)
from tests.fixtures.policies.examples import FIXTURES, apply_patches, export, resources

SECRET_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def _keys(report: Any) -> set[tuple[str, str, str, str]]:
    return {(v.policy, v.urn, v.level, v.message) for v in report.violations}


# --- the fast path's guard --------------------------------------------------------------------------


@pytest.fixture
def unannounced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(direct, "_announced", set())


def test_an_unverified_pulumi_policy_gets_the_servicer_as_it_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], unannounced: None,
) -> None:
    monkeypatch.setattr(direct, "installed_version", lambda: "1.99.0")

    def refused(*_: Any, **__: Any) -> None:
        raise AssertionError("the fast path ran with an unverified pulumi-policy")

    monkeypatch.setattr(direct, "DirectAnalysis", refused)
    config = {"all": "mandatory"}
    first, second = PolicyRunner(config), PolicyRunner(None)
    assert (first.fast, second.fast) == (False, False)
    announced = capsys.readouterr().err
    assert announced.count("pulumi-policy 1.99.0 is not a version it was verified against (1.21.0)") == 1
    assert "same verdicts, slower" in announced
    items = resources("misconfigured-stack.json")
    slow = first.evaluate(items)
    monkeypatch.undo()
    assert slow.violations and _keys(slow) == _keys(evaluate(items, config, fast=True))


def test_the_verified_version_takes_the_fast_path_silently(
    capsys: pytest.CaptureFixture[str], unannounced: None,
) -> None:
    assert direct.installed_version() in direct.VERIFIED_VERSIONS
    assert PolicyRunner(None).fast is True
    assert capsys.readouterr().err == ""


def test_a_changed_signature_refuses_the_fast_path(monkeypatch: pytest.MonkeyPatch, unannounced: None) -> None:
    monkeypatch.setattr(direct, "_parameters", lambda constructor: ("resource_type", "props"))
    reason = direct.unusable_reason()
    assert reason is not None and "ResourceValidationArgs" in reason
    assert direct.fast_path_available(announce=lambda _: None) is False


# --- levels and config, as the CLI resolves them ---------------------------------------------------


def test_levels_default_to_each_policy() -> None:
    report = evaluate(resources("misconfigured-stack.json"))
    assert "alluxio-worker-list-refresh" in report.violated("advisory")
    assert "alluxio-no-passive-cache" in report.violated("mandatory")
    assert report.levels["alluxio-no-access-time-updates"] == "advisory"


def test_all_applies_first_then_per_policy_entries() -> None:
    config = {"all": "advisory", "alluxio-no-passive-cache": "mandatory",
              "alluxio-fuse-metadata-ttl": {"minTimeoutSeconds": 7200}}
    resolved, _ = resolve_policy_config(config)
    assert resolved["alluxio-no-passive-cache"].level == "mandatory"
    assert resolved["alluxio-read-type-cache"].level == "advisory"
    ttl = resolved["alluxio-fuse-metadata-ttl"]
    assert (ttl.level, ttl.properties) == ("advisory", {"minTimeoutSeconds": 7200})
    report = evaluate(resources("misconfigured-stack.json"), config)
    assert report.violated("mandatory") == {"alluxio-no-passive-cache"}


def test_disabled_policies_are_skipped() -> None:
    config = {"alluxio-no-passive-cache": "disabled", "alluxio-cache-holds-dataset": {"enforcementLevel": "disabled"}}
    report = evaluate(resources("misconfigured-stack.json"), config)
    assert not report.for_policy("alluxio-no-passive-cache")
    assert not report.for_policy("alluxio-cache-holds-dataset")
    assert report.for_policy("alluxio-read-type-cache")


def test_remediate_without_a_remediation_reports_mandatory() -> None:
    report = evaluate(resources("misconfigured-stack.json"), {"all": "advisory", "training-shm-memory": "remediate",
                                                              "alluxio-cache-holds-dataset": "remediate"})
    assert report.violated("mandatory") == {"training-shm-memory", "alluxio-cache-holds-dataset"}


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"all": "strict"}, "all: 'strict' is not an enforcement level"),
        ({"alluxio-fuse-metadata-ttl": {"enforcementLevel": "loud"}}, "alluxio-fuse-metadata-ttl.enforcementLevel"),
        ({"alluxio-fuse-metadata-ttl": {"minTimeoutSeconds": "600"}},
         "alluxio-fuse-metadata-ttl.minTimeoutSeconds: '600' is not of type 'number'"),
        ({"alluxio-fuse-threads": {"minThreads": 0}},
         "alluxio-fuse-threads.minThreads: 0 is less than the minimum of 1"),
        ({"node-pool-fuse-kernel": {"kernelFloor": "latest"}}, "node-pool-fuse-kernel.kernelFloor"),
        ({"privileged-pods-only-in-fuse-namespace": {"fuseNamespaces": []}}, "should be non-empty"),
        ({"oss-bucket-protected": 3}, "must be an enforcement level or an object"),
    ],
)
def test_invalid_config_is_refused_with_the_reason(config: dict[str, Any], fragment: str) -> None:
    with pytest.raises(PolicyConfigError) as raised:
        evaluate(resources("good-stack.json"), config)
    assert any(fragment in p for p in raised.value.problems), raised.value.problems


def test_config_for_an_unknown_policy_is_a_warning() -> None:
    report = evaluate(resources("good-stack.json"), {"no-such-policy": "mandatory"})
    assert report.passed
    assert report.warnings == ["policy config names 'no-such-policy', which is not a policy of ack-alluxio-training"]
    assert parse_policy_config({"x": {}}) == {}


# --- unknown and secret values ------------------------------------------------------------------------


def _fuse_release_with(path: list[str], value: Any) -> list[dict[str, Any]]:
    items = resources("good-stack.json")
    return apply_patches(items, [{"at": "training-alluxio-fuse-release", "path": ["props", *path], "value": value}])


def test_an_unknown_value_makes_only_the_rules_reading_it_advisory() -> None:
    report = evaluate(_fuse_release_with(["values", "fuse", "mountOptions"], UNKNOWN_VALUE), {"all": "mandatory"})
    unknown = [v for v in report.violations if v.unknown]
    # both FUSE rules read the mount options; nothing else is affected
    assert {v.policy for v in unknown} == {"alluxio-fuse-metadata-ttl", "alluxio-fuse-threads"}
    assert {v.policy for v in report.violations} == {v.policy for v in unknown}
    assert all(v.level == "advisory" for v in unknown)
    assert all(".values.fuse.mountOptions can't be known during preview" in v.message for v in unknown)
    assert report.passed


def test_wholly_unknown_values_do_not_crash_any_rule() -> None:
    report = evaluate(_fuse_release_with(["values"], UNKNOWN_VALUE), {"all": "mandatory"})
    assert report.passed
    assert {v.level for v in report.violations} == {"advisory"}
    assert "alluxio-no-passive-cache" in report.violated()


def test_export_secrets_are_opaque_unknowns() -> None:
    ciphertext = {SECRET_KEY: SECRET_SIG, "ciphertext": "v1:abc:def"}
    report = evaluate(_fuse_release_with(["values", "fuse", "env"], ciphertext), {"all": "mandatory"})
    assert {v.policy for v in report.violations} == {"alluxio-fuse-threads", "fuse-threads-cover-readers"}
    assert all(v.unknown for v in report.violations) and report.passed
    assert "note: unknown values" in report.render()


def test_plaintext_secrets_are_read_like_the_engine_does() -> None:
    secret = {SECRET_KEY: SECRET_SIG, "value": {"MAX_IDLE_THREADS": "64"}}
    assert evaluate(_fuse_release_with(["values", "fuse", "env"], secret), {"all": "mandatory"}).violations == []


# --- remediation --------------------------------------------------------------------------------------


def test_remediate_rewrites_properties_to_the_tuned_values() -> None:
    report = evaluate(resources("misconfigured-stack.json"),
                      {"alluxio-no-passive-cache": "remediate", "alluxio-read-type-cache": "remediate",
                       "alluxio-jvm-active-processor-count": "remediate"})
    assert not report.for_policy("alluxio-no-passive-cache")
    assert not report.for_policy("alluxio-read-type-cache")
    # every count that had a limit to follow is fixed; a JVM with no cpu limit cannot be remediated
    left = report.for_policy("alluxio-jvm-active-processor-count")
    assert all("limits.cpu unset" in v.message for v in left), [v.message for v in left]
    changes = {(r.policy, c) for r in report.remediations for c in r.changes}
    assert ("alluxio-no-passive-cache",
            'values.properties.alluxio.user.file.passive.cache.enabled: true -> "false"') in changes
    assert ("alluxio-read-type-cache",
            'values.properties.alluxio.user.file.readtype.default: "CACHE_PROMOTE" -> "CACHE"') in changes
    assert ("alluxio-jvm-active-processor-count",
            'values.fuse.jvmOptions: ["-XX:ActiveProcessorCount=8"] -> ["-XX:ActiveProcessorCount=4"]') in changes
    assert "REMEDIATED alluxio-no-passive-cache" in report.render()


def test_remediation_removes_overrides_that_would_win() -> None:
    items = apply_patches(resources("good-stack.json"), [
        {"at": "training-alluxio-fuse-release", "path": ["props", "values", "fuse", "properties"],
         "value": {"alluxio.user.file.passive.cache.enabled": "true"}},
        {"at": "training-alluxio-fuse-release", "path": ["props", "values", "fuse", "jvmOptions"],
         "value": ["-XX:ActiveProcessorCount=8", "-Xmx8g", "-Dalluxio.user.file.passive.cache.enabled=true"]},
    ])
    assert evaluate(items).for_policy("alluxio-no-passive-cache")
    fixed = evaluate(items, {"alluxio-no-passive-cache": "remediate"})
    assert fixed.violations == [] and len(fixed.remediations) == 1


def test_remediation_leaves_a_tuned_stack_alone() -> None:
    report = evaluate(resources("good-stack.json"), {"all": "remediate"})
    assert report.remediations == [] and report.violations == []


# --- input shapes ---------------------------------------------------------------------------------


def test_exports_load_in_their_usual_shapes(tmp_path: Any) -> None:
    document = export("good-stack.json")
    assert len(resources_from_export(document)) == len(resources_from_export(document["deployment"]))
    assert len(resources_from_export(document["deployment"]["resources"])) == 23
    pending = copy.deepcopy(document)
    pending["deployment"]["resources"][4]["delete"] = True
    assert len(resources_from_export(pending)) == 22
    assert load_export(FIXTURES / "good-stack.json")[0].name == "ack-alluxio-training-prod"
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ExportError, match="not valid JSON"):
        load_export(broken)
    with pytest.raises(ExportError, match="'type' and 'urn'"):
        resources_from_export({"deployment": {"resources": [{"urn": 3}]}})


def test_resources_recorded_by_the_mock_engine() -> None:
    """A small program under offline.mock_engine, its resources evaluated as recorded."""
    import pulumi
    import pulumi_alicloud as alicloud
    import pulumi_kubernetes as k8s

    from ack_alluxio_training.offline.mock_engine import run_program
    from ack_alluxio_training.offline.policy_runner import evaluate_plan, export_shape, resources_from_plan
    from ack_alluxio_training.offline.stack_config import StackConfig

    def program() -> None:
        alicloud.oss.Bucket("data", bucket="imagenet-dev", tags={"ack-alluxio-training/region": "cn-beijing"},
                            opts=pulumi.ResourceOptions(protect=True))
        alicloud.cs.NodePool("pool", cluster_id="c1", node_pool_name="gpu", image_type="CentOS", desired_size="2",
                             tags={"ack-alluxio-training/region": "cn-beijing"})
        k8s.helm.v3.Release("fuse", chart="alluxio", namespace="alluxio-fuse", values={
            "master": {"enabled": False}, "worker": {"enabled": False},
            "fuse": {"enabled": True, "env": {"MAX_IDLE_THREADS": pulumi.Output.secret("64")}},
        })

    plan = run_program(StackConfig("dev", {}, frozenset()), program)
    recorded = resources_from_plan(plan)
    assert {r.type for r in recorded} >= {"alicloud:oss/bucket:Bucket", "kubernetes:helm.sh/v3:Release"}
    bucket = next(r for r in recorded if r.type == "alicloud:oss/bucket:Bucket")
    assert bucket.protect is True
    report = evaluate_plan(plan)
    expected = {"node-pool-fuse-kernel", "oss-bucket-encrypted", "alluxio-fuse-metadata-ttl"}
    assert expected <= report.violated("mandatory")
    assert not report.for_policy("oss-bucket-protected")
    # the secret env value reached the rule as the engine would hand it over (unwrapped)
    assert all("env MAX_IDLE_THREADS" not in v.message for v in report.for_policy("alluxio-fuse-threads"))
    shaped = [export_shape(r) for r in recorded]
    assert _keys(evaluate(shaped)) == _keys(report)
    json.dumps(shaped)


# --- robustness ----------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12) | st.sampled_from(["hostPath", "true", "3500m", "-XX:ActiveProcessorCount=2", "CACHE",
                                               UNKNOWN_VALUE, "alluxio", "Worker", "/mnt/alluxio/fuse"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["enabled", "properties", "jvmOptions", "resources", "limits", "requests", "cpu", "env",
                         "mountOptions", "args", "levels", "type", "quota", "template", "spec", "containers",
                         "Worker", "replicas", "tags", "labels", "imageType", "policyDocument", "hostNetwork"]),
        inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=_json, spec=_json, pool=_json, bucket=_json)
def test_no_rule_crashes_on_arbitrary_inputs(values: Any, spec: Any, pool: Any, bucket: Any) -> None:
    items = [
        {"urn": "urn:pulumi:s::p::kubernetes:helm.sh/v3:Release::r", "type": "kubernetes:helm.sh/v3:Release",
         "inputs": {"chart": "alluxio", "values": values}},
        {"urn": "urn:pulumi:s::p::kubernetes:kubeflow.org/v1:MPIJob::j", "type": "kubernetes:kubeflow.org/v1:MPIJob",
         "inputs": {"spec": spec}},
        {"urn": "urn:pulumi:s::p::kubernetes:data.fluid.io/v1alpha1:AlluxioRuntime::f",
         "type": "kubernetes:data.fluid.io/v1alpha1:AlluxioRuntime", "inputs": {"spec": spec}},
        {"urn": "urn:pulumi:s::p::alicloud:cs/nodePool:NodePool::n", "type": "alicloud:cs/nodePool:NodePool",
         "inputs": pool if isinstance(pool, dict) else {"tags": pool}},
        {"urn": "urn:pulumi:s::p::alicloud:oss/bucket:Bucket::b", "type": "alicloud:oss/bucket:Bucket",
         "inputs": bucket if isinstance(bucket, dict) else {"tags": bucket}},
        {"urn": "urn:pulumi:s::p::alicloud:ram/policy:Policy::p", "type": "alicloud:ram/policy:Policy",
         "inputs": {"policyDocument": json.dumps(spec)}},
    ]
    report = evaluate(items, {"all": "remediate"})
    report.render()
    # the fast path and the servicer as it is agree on anything
    assert _keys(report) == _keys(evaluate(items, {"all": "remediate"}, fast=False))
    assert _keys(evaluate(items)) == _keys(evaluate(items, fast=False))


def test_evaluate_export_takes_documents_or_paths() -> None:
    from ack_alluxio_training.offline.policy_runner import environment_config_path, evaluate_export

    by_path = evaluate_export(FIXTURES / "misconfigured-stack.json", environment_config_path("prod"))
    by_document = evaluate_export(
        export("misconfigured-stack.json"), {"all": "mandatory", "alluxio-metrics-sink": "advisory"}
    )
    assert _keys(by_path) == _keys(by_document)
    assert by_path.mandatory_violations == by_path.mandatory and not by_path.passed
