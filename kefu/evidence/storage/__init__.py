"""Where photo evidence is kept: one interface, one module per backend, the settings pick.

``local`` (a directory, the default of ``make run``) or ``s3`` (any
S3-compatible object store: MinIO, Ceph, AWS), as wechatpy's ``session/``
does it for its token stores.
"""
from __future__ import annotations

from kefu.core.config import EvidenceOptions
from kefu.evidence.storage.interface import EvidenceStorage, Missing


def open_storage(options: EvidenceOptions) -> EvidenceStorage:
    if options.storage == "s3":
        from kefu.evidence.storage.s3 import S3Storage

        return S3Storage(options.s3_bucket, endpoint_url=options.s3_endpoint, region=options.s3_region)
    from kefu.evidence.storage.local import LocalStorage

    return LocalStorage(options.directory)


__all__ = ["EvidenceStorage", "Missing", "open_storage"]
