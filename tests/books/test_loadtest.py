import json

import pytest
from django.core.management import call_command

from books.models import BookJob
from tests.support.workers import worker_database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_short_load_test_has_no_server_errors_and_loses_no_job(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", worker_database_url())  # the server and workers use the test database
    out = tmp_path / "load.json"
    call_command("loadtest", clients=6, seconds=6, rq_workers=2, json=out)
    report = json.loads(out.read_text())
    assert report["server_errors"] == 0 and report["transport_errors"] == 0
    assert report["jobs_created"] > 0
    assert report["jobs_found"] == report["jobs_created"]
    assert report["requests"]["status"] > 0 and report["latency_ms"]["status"]["p99"] > 0
    assert not BookJob.objects.filter(owner__username__startswith="loadtest-").exists()  # cleaned up
