"""Photo evidence in S3-compatible object storage (MinIO, Ceph, AWS) through boto3.

The bucket is private: agents fetch photos through the desk's signed,
expiring links, never from the bucket. Credentials come the way boto3
reads them (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` in the
environment, or its other providers); none is in Kefu's settings.
"""
from __future__ import annotations

import threading
from typing import Any, Optional

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from kefu.evidence.storage.interface import Missing, checked

#: fail fast: a shopper is waiting for the answer to their upload
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 3, "mode": "standard"},
                       s3={"addressing_style": "path"})


class S3Storage:
    def __init__(self, bucket: str, endpoint_url: Optional[str] = None, region: str = "us-east-1") -> None:
        self.bucket = bucket
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region,
                                        config=CLIENT_CONFIG)
        self._bucket_ready = False
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._ensure_bucket()
        self.client.put_object(Bucket=self.bucket, Key=checked(key), Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=checked(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise Missing(key) from None
            raise
        return answer["Body"].read()

    def _ensure_bucket(self) -> None:
        """Create the bucket on first use if it is not there (a new MinIO)."""
        if self._bucket_ready:
            return
        with self._lock:
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                try:
                    self.client.create_bucket(Bucket=self.bucket)
                except ClientError as race:  # another instance made it first
                    if race.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou",
                                                                           "BucketAlreadyExists"):
                        raise
            self._bucket_ready = True
