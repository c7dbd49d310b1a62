"""The bench end to end at a tiny size: real worker processes, fake provider, table and JSON.

Not a timing test: the targets are for the documented run (PostgreSQL, Redis, full size).
"""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from books.benchmarking.context import BENCH_USERNAME
from books.models import BookJob

TINY = [
    "--flush-redis",  # the test Redis database is emptied before every test anyway
    "--latency", "0.05", "--pages", "4", "--workers", "1", "--regen", "1", "--regen-workers", "1",
    "--overhead-books", "2", "--overhead-pages", "3", "--overhead-workers", "1",
    "--memory-pages", "4",
    "--fault-books", "1", "--fault-pages", "4", "--fault-workers", "1",
    "--outage-books", "1", "--outage-pages", "3", "--outage-workers", "1", "--outage-latency", "0.01",
    "--backoff", "0.01", "--timeout", "90",
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_bench_prints_a_table_and_writes_json_then_cleans_up(tmp_path):
    out = io.StringIO()
    report = tmp_path / "bench.json"

    call_command("bench", *TINY, "--json", str(report), stdout=out)

    text = out.getvalue()
    assert "measurement" in text and "measured" in text and "target" in text, text
    assert "book wall time, 4 pages" in text
    assert "Machine: " in text
    document = json.loads(report.read_text())
    assert {row["scenario"] for row in document["results"]} == {1, 2, 3, 4, 5, 6, 7}
    assert document["machine"]["cpus"] >= 1
    assert document["config"]["pages"] == 4
    for row in document["results"]:
        assert row["value"] >= 0 and row["unit"] is not None, row
    memory = next(row for row in document["results"] if row["scenario"] == 5)
    assert memory["value"] > 20  # MB: a Django worker that rendered PDFs cannot be smaller
    # Everything the bench made is gone: its user, its books, its workers (it waited for them).
    assert not BookJob.objects.exists()
    assert not get_user_model().objects.filter(username=BENCH_USERNAME).exists()


@pytest.mark.django_db
def test_bench_refuses_unknown_scenarios():
    with pytest.raises(CommandError, match="--scenarios"):
        call_command("bench", "--scenarios", "9", stdout=io.StringIO())
