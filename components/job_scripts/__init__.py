"""Scripts that run inside the training pods, shipped to them in a ConfigMap.

They are ordinary modules here so their logic is unit-tested offline; the TrainingJob component
reads their text at run time and puts it in the job's scripts ConfigMap. Inside the pod they run
on the training image's own Python (3.8 in the Horovod image) with the standard library only, so
they must stay free of 3.9+ syntax and third-party imports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

#: Runs the benchmark on synthetic then real data and reports real/synthetic throughput.
PROBE_SCRIPT: Final = "throughput_probe.py"
#: Turns a TFJob's TF_CONFIG into tf_cnn_benchmarks' cluster flags and runs the benchmark.
TF_CLUSTER_SCRIPT: Final = "with_tf_cluster_flags.py"
SCRIPT_NAMES: Final = (PROBE_SCRIPT, TF_CLUSTER_SCRIPT)


def script_sources() -> dict[str, str]:
    """The scripts' text keyed by file name: the data of the job's scripts ConfigMap."""
    here = Path(__file__).resolve().parent
    return {name: (here / name).read_text(encoding="utf-8") for name in SCRIPT_NAMES}
