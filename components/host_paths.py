"""Host directories the platform mounts into pods: normalised, and never a system directory.

The cache tier (``cache.hostPath``) and the FUSE mount point are hostPath volumes of privileged or
host-network pods; pointed at ``/etc``, ``/var/lib/kubelet`` or ``/proc`` they would hand a pod the
node. A path is refused unless it is absolute, plain ASCII, free of ``..`` and of repeated or
trailing slashes once normalised, and not a system directory or inside one. ``/dev/shm`` (a tmpfs)
and the scratch roots (``/mnt``, ``/data``...) are allowed for a directory of their own below them.
"""

from __future__ import annotations

import posixpath
import re
from typing import Final

_PATH_CHARACTERS: Final = re.compile(r"/[A-Za-z0-9._/-]{0,254}", re.ASCII)

#: System directories no hostPath of this platform may be or lie in.
SYSTEM_DIRECTORIES: Final = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var/lib/kubelet",
    "/var/lib/containerd",
    "/var/lib/docker",
    "/var/lib/etcd",
    "/var/log",
    "/var/run",
)
#: Inside a system directory but meant for this: a tmpfs for the MEM tier.
ALLOWED_INSIDE_SYSTEM: Final = ("/dev/shm",)
#: Roots that are fine to hold a directory of ours but must never be mounted whole.
SHARED_ROOTS: Final = ("/", "/data", "/home", "/mnt", "/opt", "/srv", "/tmp", "/var", "/var/lib", "/dev/shm")


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def host_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be a host directory of the platform, or None when it can."""
    if not _PATH_CHARACTERS.fullmatch(path):
        return (
            "must be an absolute path of ASCII letters, digits, '.', '_', '-' and '/' "
            "(at most 255 characters), e.g. /dev/shm/alluxio-cache"
        )
    if ".." in path.split("/") or "." in path.split("/"):
        return "must not contain '.' or '..' components"
    normalised = "/" + posixpath.normpath(path).lstrip("/")
    if "//" in path or (path.rstrip("/") or "/") != normalised:
        return f"is not normalised; write {normalised!r}"
    if normalised in SHARED_ROOTS:
        return f"{normalised} is shared by the whole node; use a directory of its own below it"
    allowed = any(_inside(normalised, root) for root in ALLOWED_INSIDE_SYSTEM)
    for directory in SYSTEM_DIRECTORIES:
        if _inside(normalised, directory) and not allowed:
            return f"lies in the system directory {directory}, which no pod may mount"
    return None
