"""Fixtures for running the studio as in production: object storage on an S3-compatible server."""

import pytest

from tests.support.s3 import Bucket, FaultyProxy, MotoServer


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """One moto S3 server for the run; each test gets a bucket of its own on it."""
    server = MotoServer(log=tmp_path_factory.mktemp("moto") / "moto.log").start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(moto_server, settings) -> Bucket:
    """A fresh bucket, with the default storage pointed at it the way production's AWS_* settings do."""
    bucket = Bucket.create(moto_server.url)
    settings.STORAGES = {**settings.STORAGES, "default": bucket.storage()}
    return bucket


@pytest.fixture
def s3_proxy(moto_server):
    """An HTTP proxy in front of moto that can fail requests (see FaultyProxy)."""
    proxy = FaultyProxy(moto_server.url).start()
    yield proxy
    proxy.stop()
