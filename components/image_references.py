"""Container image references: which ones can change under a running platform.

A tag is a name the registry owner can move; ``:latest`` (or no tag at all, which means
``:latest``) moves with every push. A digest (``name@sha256:<64 hex>``) names one image for good,
so a re-run of a job, a node replacement or a retry pulls exactly what was reviewed. Production
stacks run training images by digest only; every environment refuses ``:latest``.
"""

from __future__ import annotations

import re
from typing import Final

_DIGEST: Final = re.compile(r"@sha256:[0-9a-f]{64}\Z")
#: A tag is what follows the last ':' after the last '/' (a ':' before it is a registry port).
_TAG: Final = re.compile(r":([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})\Z")


def pinned_by_digest(image: str) -> bool:
    """Whether the reference names one image for good (``...@sha256:<64 lowercase hex>``)."""
    return bool(_DIGEST.search(image))


def tag_of(image: str) -> str | None:
    """The tag of a reference without a digest (None when it has none, i.e. ``latest``)."""
    if "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    match = _TAG.search(last)
    return match.group(1) if match else None


def floating(image: str) -> bool:
    """``:latest`` or untagged and not pinned by digest: a different image at every push."""
    return not pinned_by_digest(image) and tag_of(image) in (None, "latest")


def image_pin_problem(image: str, *, require_digest: bool) -> str | None:
    """Why this image may not run (None when it may)."""
    if require_digest and not pinned_by_digest(image):
        return (f"{image!r} is not pinned by digest; production runs images as <name>@sha256:<64 hex digest> "
                "(the digest `docker push` or `crane digest` prints)")
    if floating(image):
        return f"{image!r} floats (':latest' or no tag): pin it by digest (<name>@sha256:...) or at least a fixed tag"
    return None
