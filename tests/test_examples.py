"""The examples of other stacks importing the components run under the mock engine."""

from __future__ import annotations

import runpy

from ack_alluxio_training.offline.mock_engine import SECRET_SIG, PlanResult, run_program
from ack_alluxio_training.offline.stack_config import PROJECT_ROOT, config_from_mapping

EXAMPLES = PROJECT_ROOT / "examples"


def _run(example: str) -> PlanResult:
    path = EXAMPLES / example / "__main__.py"

    def program() -> None:
        runpy.run_path(str(path))

    return run_program(config_from_mapping(example, {}), program)


def test_research_team_stack_builds_the_tuned_platform() -> None:
    result = _run("research-team-stack")
    releases = result.by_type("kubernetes:helm.sh/v3:Release")
    assert len(releases) == 2
    assert [j.inputs["kind"] for j in result.by_type("kubernetes:kubeflow.org/v1:PyTorchJob")] == ["PyTorchJob"]
    # two datasets: the second is mounted under /coco, and both buckets exist
    assert len(result.by_type("alicloud:oss/bucket:Bucket")) == 2
    # FUSE threads follow the job: 32 reader threads x 1 worker per 4-GPU node
    assert result.outputs["fuseMaxIdleThreads"] == 32


def test_dataset_bucket_alone_keeps_its_key_secret() -> None:
    result = _run("dataset-bucket-only")
    bucket = result.by_type("alicloud:oss/bucket:Bucket")[0]
    assert bucket.protect and bucket.inputs["bucket"] == "vision-laion-subset"
    assert result.outputs["ufsUri"] == "oss://vision-laion-subset/webdataset/"
    assert SECRET_SIG in result.outputs["accessKeyId"]
