"""OCI image references (``[registry/]name[:tag][@digest]``) checked by the distribution grammar.

An image reference goes into pod specs verbatim; the kubelet refuses a malformed one only when the
pod starts, long after ``pulumi up`` reported success. The grammar is the one container registries
implement (github.com/distribution/reference): lowercase path components joined by ``.``, ``_``,
``__`` or dashes, an optional registry host with port, a tag of at most 128 word characters and an
``algorithm:hex`` digest. ASCII only and matched whole, so ``"evil image"`` or a trailing newline
never passes.
"""

from __future__ import annotations

import re
from typing import Final

_DOMAIN_COMPONENT: Final = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN: Final = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]{{1,5}})?"
_PATH_COMPONENT: Final = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME: Final = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG: Final = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST: Final = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REFERENCE: Final = re.compile(rf"(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?", re.ASCII)
#: Registries refuse longer repository names.
MAX_NAME_LENGTH: Final = 255


def image_reference_problem(reference: str) -> str | None:
    """Why ``reference`` is not an image reference a registry accepts, or None."""
    match = IMAGE_REFERENCE.fullmatch(reference)
    if match is None:
        return "is not an image reference (registry/name[:tag][@sha256:<digest>], lowercase name, no spaces)"
    first, _, rest = match.group("name").partition("/")
    looks_like_host = "." in first or ":" in first or first == "localhost"
    if rest and not looks_like_host and not re.fullmatch(_PATH_COMPONENT, first, re.ASCII):
        return "is not an image reference: repository names are lowercase"
    if len(match.group("name")) > MAX_NAME_LENGTH:
        return f"has a name longer than {MAX_NAME_LENGTH} characters"
    return None


def is_pinned_by_digest(reference: str) -> bool:
    """Whether the reference names an immutable image (``@sha256:...``)."""
    match = IMAGE_REFERENCE.fullmatch(reference)
    return bool(match and match.group("digest"))


def tag_of(reference: str) -> str | None:
    """The tag of a reference (None when it has none, which a registry reads as ``latest``)."""
    match = IMAGE_REFERENCE.fullmatch(reference)
    return match.group("tag") if match else None


def floating(reference: str) -> bool:
    """``:latest`` or untagged, and no digest: a different image after every push.

    A tag is a name the registry owner can move; a digest names one image for good, so a retry, a
    node replacement or a re-run pulls exactly what was reviewed.
    """
    return not is_pinned_by_digest(reference) and tag_of(reference) in (None, "latest")


def image_pin_problem(reference: str, *, require_digest: bool) -> str | None:
    """Why this image may not run where a digest is (or is not) required, or None."""
    if require_digest and not is_pinned_by_digest(reference):
        return (f"{reference!r} is not pinned by digest; production runs images as <name>@sha256:<digest> "
                "(the digest `docker push` or `crane digest` prints)")
    if floating(reference):
        return f"{reference!r} floats (':latest' or no tag): pin it by digest (<name>@sha256:...) or a fixed tag"
    return None
