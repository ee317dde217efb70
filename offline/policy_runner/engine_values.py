"""Engine values in resource properties: the markers the Pulumi engine writes, and the wire form.

A ``pulumi stack export`` (and the mock engine's record) holds properties as JSON with engine
markers: an object under the signature key ``4dabf181...`` is a secret, an asset, an archive, a
resource reference or an output value; an unknown value (a preview's not-yet-known output) is one
of pulumi-policy's sentinel strings. The CLI hands the analyzer a protobuf ``Struct`` of them;
this module builds the same Struct (:func:`struct_of`) and the JSON it is made from
(:func:`json_text`), with what cannot be read offline (ciphertext secrets) made unknown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from google.protobuf import struct_pb2
from pulumi_policy import proxy as proxy_module

UNKNOWN_VALUE: Final = proxy_module.UNKNOWN_STRING_VALUE
SIGNATURE_KEY: Final = "4dabf18193072939515e22adb298388d"
SECRET_SIGNATURE: Final = "1b47061264138c4ac30d75fd1eb44270"
ASSET_SIGNATURE: Final = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIGNATURE: Final = "0def7320c3a5731c473e5ecbe6d01bc7"
RESOURCE_REFERENCE_SIGNATURE: Final = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_VALUE_SIGNATURE: Final = "d0e6a833031e9bbcd3f4e8bde6ca49a4"

#: Every sentinel pulumi-policy treats as an unknown value (strings, so they survive JSON).
UNKNOWN_SENTINELS: Final = (
    proxy_module.UNKNOWN_BOOLEAN_VALUE,
    proxy_module.UNKNOWN_NUMBER_VALUE,
    proxy_module.UNKNOWN_STRING_VALUE,
    proxy_module.UNKNOWN_ARRAY_VALUE,
    proxy_module.UNKNOWN_ASSET_VALUE,
    proxy_module.UNKNOWN_ARCHIVE_VALUE,
    proxy_module.UNKNOWN_OBJECT_VALUE,
)


def holds_signature(text: str) -> bool:
    """Whether JSON text holds an engine signature (secret, asset, archive, reference, output)."""
    return SIGNATURE_KEY in text


def holds_unknown(text: str) -> bool:
    """Whether JSON text holds an unknown-value sentinel."""
    return any(sentinel in text for sentinel in UNKNOWN_SENTINELS)


def holds_marker(text: str) -> bool:
    """Whether JSON text holds anything the engine would not hand over as plain data."""
    return holds_signature(text) or holds_unknown(text)


def readable(value: Any) -> Any:
    """Engine values the analyzer cannot read offline, made readable or unknown.

    Ciphertext secrets cannot be decrypted without the stack's secrets provider, so they become
    unknown (the analyzer then reports rules that need them as advisory). Resource references
    become their URN; output values their value, or unknown.
    """
    if isinstance(value, Mapping):
        signature = value.get(SIGNATURE_KEY)
        if signature == SECRET_SIGNATURE:
            if "value" in value:
                return {SIGNATURE_KEY: SECRET_SIGNATURE, "value": readable(value["value"])}
            if "plaintext" in value and isinstance(value["plaintext"], str):
                try:
                    return {SIGNATURE_KEY: SECRET_SIGNATURE, "value": readable(json.loads(value["plaintext"]))}
                except json.JSONDecodeError:
                    return {SIGNATURE_KEY: SECRET_SIGNATURE, "value": value["plaintext"]}
            return {SIGNATURE_KEY: SECRET_SIGNATURE, "value": UNKNOWN_VALUE}
        if signature in (ASSET_SIGNATURE, ARCHIVE_SIGNATURE):
            has_content = any(k in value for k in ("path", "text", "uri", "assets"))
            return {k: readable(v) for k, v in value.items()} if has_content else UNKNOWN_VALUE
        if signature == RESOURCE_REFERENCE_SIGNATURE:
            return str(value.get("urn", UNKNOWN_VALUE))
        if signature == OUTPUT_VALUE_SIGNATURE:
            return readable(value["value"]) if "value" in value else UNKNOWN_VALUE
        if signature is not None:
            return UNKNOWN_VALUE
        return {str(k): readable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [readable(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


#: ``json.dumps(..., allow_nan=False)`` without the circular-reference check: a cycle fails at
#: once with RecursionError instead of after a walk.
_STRICT_JSON: Final = json.JSONEncoder(allow_nan=False, check_circular=False)


def json_text(properties: Mapping[str, Any] | None) -> str:
    """Properties as the JSON the wire Struct is made from (signatures made readable first)."""
    if not properties:
        return "{}"
    try:
        text = _STRICT_JSON.encode(properties)
    except (TypeError, ValueError):
        return json.dumps(readable(properties))
    return json.dumps(readable(properties)) if holds_signature(text) else text


def struct_of(properties: Mapping[str, Any] | None) -> struct_pb2.Struct:
    """The Struct the CLI would send, built the protobuf library's way (``Struct.update``)."""
    return struct_from_text(json_text(properties))


def struct_from_text(text: str) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(json.loads(text))
    return struct


#: Decodes JSON as ``MessageToDict`` returns a Struct: every number a double.
DOUBLES_JSON: Final = json.JSONDecoder(parse_int=float)


def as_doubles(text: str) -> Any:
    """What ``MessageToDict`` returns for the Struct built from ``text``."""
    return DOUBLES_JSON.decode(text)
