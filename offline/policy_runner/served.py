"""The pack served over gRPC as the Pulumi CLI launches it, driven the way the CLI drives it.

The CLI runs a Python policy pack with the project's interpreter as ``python -u -m pulumi.policy
<engine address> <pack dir>`` in the pack's folder; that runs ``__main__.py``, whose ``PolicyPack``
serves pulumi-policy's Analyzer service and prints its port. The CLI then sends ``Configure`` (the
resolved policy config), per resource ``Remediate`` (when a policy remediates) and ``Analyze``, and
one ``AnalyzeStack`` with every resource. :class:`ServedPack` does the same, so the parity test and
the benchmark can compare the offline runner with the real thing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import grpc  # type: ignore[import-untyped]
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from ack_alluxio_training.offline.policy_runner.evaluation import PolicyRunner
from ack_alluxio_training.offline.policy_runner.report import Violation
from ack_alluxio_training.offline.policy_runner.resources import EngineResource, normalised, provider_urn
from ack_alluxio_training.offline.policy_runner.servicer import ServicerRequests
from ack_alluxio_training.policies.pack import PACK_DIR

#: pulumi-policy's own limit for messages (400 MB): a big AnalyzeStack request needs it.
_MESSAGE_LIMIT: Final = 400 * 1024 * 1024
_OPTIONS: Final = [("grpc.max_send_message_length", _MESSAGE_LIMIT),
                   ("grpc.max_receive_message_length", _MESSAGE_LIMIT)]


class ServedPack:
    """The pack in its own process, as the CLI runs it; use as a context manager.

    ``memoize``: remember each response by its request (and the config it was sent under), for
    callers that send the same resources many times (the parity test's cases share most of them).
    """

    def __init__(self, pack_dir: Path = PACK_DIR, python: str = sys.executable, *, memoize: bool = False) -> None:
        self._pack_dir = pack_dir
        self._python = python
        self._memo: dict[tuple[str, bytes, bytes], Any] | None = {} if memoize else None
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: Any = None
        self._stub: Any = None
        self._configured = b""
        #: Seconds spent waiting for the pack's answers (the calls alone, not building requests).
        self.seconds_in_calls = 0.0

    def __enter__(self) -> ServedPack:
        self._process = subprocess.Popen(
            [self._python, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(self._pack_dir)],
            cwd=self._pack_dir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONPATH=""),
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().decode().strip()
        if not line.isdigit():
            self.close()
            raise RuntimeError(f"the policy pack did not print its port (got {line!r})")
        self._channel = grpc.insecure_channel(f"127.0.0.1:{line}", options=_OPTIONS)
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        deadline = time.monotonic() + 30
        while True:
            try:
                self._stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=5)
                return self
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    self.close()
                    raise
                time.sleep(0.1)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None

    @property
    def stub(self) -> Any:
        """The Analyzer stub (for calls of one's own)."""
        if self._stub is None:
            raise RuntimeError("the pack is not being served: use ServedPack as a context manager")
        return self._stub

    def _call(self, method: str, request: Any) -> Any:
        memo = self._memo
        key = (method, self._configured, request.SerializeToString(deterministic=True)) if memo is not None else None
        if memo is not None and key in memo:
            return memo[key]
        started = time.perf_counter()
        response = getattr(self.stub, method)(request, timeout=3600)
        self.seconds_in_calls += time.perf_counter() - started
        if memo is not None and key is not None:
            memo[key] = response
        return response

    def configure(self, runner: PolicyRunner) -> None:
        """Send the runner's resolved config, as the CLI sends ``--policy-pack-config``."""
        request = runner.configure_request
        self.stub.Configure(request, timeout=30)
        self._configured = request.SerializeToString(deterministic=True)

    def evaluate(
        self, resources: Iterable[Mapping[str, Any] | EngineResource | Any], policy_config: Mapping[str, Any] | None,
    ) -> list[Violation]:
        """The violations the served pack reports for these resources, in the CLI's order of calls."""
        runner = PolicyRunner(policy_config, fast=False)
        self.configure(runner)
        items = [normalised(r) for r in resources]
        by_urn = {r.urn: r for r in items}
        types = {r.urn: r.type for r in items}
        requests = ServicerRequests(
            lambda r: by_urn.get(provider_urn(r.provider)) if r.provider else None
        )
        remediates = any(level == "remediate" for level in runner.levels.values())
        violations: list[Violation] = []
        stack = analyzer_pb2.AnalyzeStackRequest()
        for resource in items:
            if not resource.analyzed:
                continue
            properties: struct_pb2.Struct | None = None
            if remediates:
                for item in self._call("Remediate", requests.analyze(resource)).remediations:
                    if item.HasField("properties") and item.properties.fields:
                        properties = item.properties
            response = self._call("Analyze", requests.analyze(resource, properties))
            violations += [runner.from_diagnostic(d, resource.urn, resource.type, types) for d in response.diagnostics]
            stack.resources.append(requests.stack_resource(resource, properties))
        response = self._call("AnalyzeStack", stack)
        violations += [runner.from_diagnostic(d, d.urn, None, types) for d in response.diagnostics]
        return violations
