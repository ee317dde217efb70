"""The Alluxio 2.9 property keys this package sets, and what Alluxio says about each.

Source: ``core/common/src/main/java/alluxio/conf/PropertyKey.java`` on branch-2.9 (the branch of
the pinned 2.9.5 release; keys built by ``Builder`` and instances of the ``Template`` enum). Only the
keys the components write are listed. A misspelt key is silently ignored by Alluxio, so a test
checks every key in the rendered values against this table, and (when the reference data is at
hand) this table against the full key list of branch-2.9. Upgrading Alluxio means re-checking it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ack_alluxio_training import tuning


@dataclass(frozen=True)
class PropertyKeyFact:
    """What PropertyKey.java declares for one key: its value type and where it takes effect."""

    value_type: str
    scope: str
    why: str


# Keys set by the master/worker release (server side).
KEY_MASTER_HOSTNAME: Final = "alluxio.master.hostname"
KEY_SITE_CONF_DIR: Final = "alluxio.site.conf.dir"
KEY_ROOT_UFS: Final = "alluxio.master.mount.table.root.ufs"
KEY_ROOT_READONLY: Final = "alluxio.master.mount.table.root.readonly"
ROOT_MOUNT_OPTION_PREFIX: Final = "alluxio.master.mount.table.root.option."
# The standalone FUSE process's web server (off by default in 2.9): where its metrics are served.
KEY_FUSE_WEB_ENABLED: Final = "alluxio.fuse.web.enabled"
KEY_FUSE_WEB_PORT: Final = "alluxio.fuse.web.port"

# OSS under-file-system options (mount options of the root mount and of `alluxio fs mount`).
OSS_ENDPOINT: Final = "fs.oss.endpoint"
OSS_ACCESS_KEY_ID: Final = "fs.oss.accessKeyId"
OSS_ACCESS_KEY_SECRET: Final = "fs.oss.accessKeySecret"

PROPERTY_KEYS: Final[dict[str, PropertyKeyFact]] = {
    tuning.KEY_UFS_READ_LOCATION_POLICY: PropertyKeyFact("class", "CLIENT", "row 4: UFS read location policy"),
    tuning.KEY_AVOID_EVICTION_RESERVED_BYTES: PropertyKeyFact("datasize", "CLIENT", "row 4: space kept free"),
    tuning.KEY_PASSIVE_CACHE: PropertyKeyFact("boolean", "CLIENT", "row 5: passive caching"),
    tuning.KEY_READ_TYPE: PropertyKeyFact("enum:ReadType", "CLIENT", "row 6: read type"),
    tuning.KEY_METADATA_CACHE_ENABLED: PropertyKeyFact("boolean", "CLIENT", "row 7: client metadata cache"),
    tuning.KEY_METADATA_CACHE_MAX_SIZE: PropertyKeyFact("int", "CLIENT", "row 7: cache entries"),
    tuning.KEY_METADATA_CACHE_EXPIRATION: PropertyKeyFact("duration", "CLIENT", "row 7: cache expiration"),
    tuning.KEY_WORKER_LIST_REFRESH: PropertyKeyFact("duration", "CLIENT", "row 8: worker-list refresh"),
    # Hidden in 2.9 (not in the generated docs) but read by the client since 2.5.
    tuning.KEY_ACCESS_TIME_UPDATES_DISABLED: PropertyKeyFact("boolean", "CLIENT", "row 9: access-time updates"),
    tuning.KEY_SHORT_CIRCUIT_ENABLED: PropertyKeyFact("boolean", "CLIENT", "row 10: short-circuit reads"),
    tuning.KEY_LIBFUSE_VERSION: PropertyKeyFact("int", "ALL", "row 3: libfuse 2 or 3"),
    KEY_MASTER_HOSTNAME: PropertyKeyFact("string", "ALL", "FUSE release points at the cache's master"),
    KEY_SITE_CONF_DIR: PropertyKeyFact("list", "ALL", "where the master finds the credentials file"),
    KEY_ROOT_UFS: PropertyKeyFact("string", "MASTER", "root mount: the first dataset"),
    KEY_FUSE_WEB_ENABLED: PropertyKeyFact("boolean", "CLIENT", "FUSE serves /metrics/prometheus/ (default false)"),
    KEY_FUSE_WEB_PORT: PropertyKeyFact("int", "CLIENT", "the FUSE web port the PodMonitor scrapes (default 49999)"),
    KEY_ROOT_READONLY: PropertyKeyFact("boolean", "MASTER", "root mount of read-only data"),
    OSS_ENDPOINT: PropertyKeyFact("string", "SERVER", "OSS internal endpoint"),
    OSS_ACCESS_KEY_ID: PropertyKeyFact("string", "SERVER", "OSS credentials (Secret only)"),
    OSS_ACCESS_KEY_SECRET: PropertyKeyFact("string", "SERVER", "OSS credentials (Secret only)"),
}

#: Parametrised keys (PropertyKey.Template); ``%s`` may contain dots only as the last placeholder.
PROPERTY_KEY_TEMPLATES: Final[dict[str, str]] = {
    "alluxio.master.mount.table.%s.option.%s": "root mount options (endpoint in values, keys in the Secret)",
}


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(%s|%d)", template)
    placeholders = [i for i, part in enumerate(parts) if part in ("%s", "%d")]
    regex = ""
    for i, part in enumerate(parts):
        if part == "%d":
            regex += "[0-9]+"
        elif part == "%s":
            regex += ".+" if i == placeholders[-1] else "[^.]+"
        else:
            regex += re.escape(part)
    # ASCII digits and \Z, not $: a trailing newline or a Unicode digit is no key Alluxio knows.
    return re.compile(f"^{regex}\\Z", re.ASCII)


_TEMPLATE_PATTERNS: Final = [_template_pattern(t) for t in PROPERTY_KEY_TEMPLATES]


def is_known_property_key(key: str) -> bool:
    """Whether a key is one this package knows Alluxio 2.9 reads (a listed key or a template instance)."""
    if key in PROPERTY_KEYS:
        return True
    if key.startswith(ROOT_MOUNT_OPTION_PREFIX):
        return key[len(ROOT_MOUNT_OPTION_PREFIX) :] in PROPERTY_KEYS and any(p.match(key) for p in _TEMPLATE_PATTERNS)
    return False


def root_mount_option(ufs_key: str) -> str:
    """The master property that sets one option of the root mount (``...root.option.fs.oss.endpoint``)."""
    return f"{ROOT_MOUNT_OPTION_PREFIX}{ufs_key}"
