"""`manage.py benchretries` runs end to end and reports what it measured next to what it expected."""

import json

import pytest
from django.core.management import CommandError, call_command

from books.models import BookJob


@pytest.mark.django_db(transaction=True)
def test_the_benchmark_prints_measured_and_expected_figures(tmp_path, capsys, django_user_model):
    out = tmp_path / "bench.json"
    call_command("benchretries", images=500, books=1, pages=3, seed=7, json=out)
    printed = capsys.readouterr().out
    assert "in-memory provider" in printed and "1 real books end-to-end" in printed
    assert "1.390" in printed and "2.70%" in printed  # the expected values at p = 0.3, 3 attempts
    assert "Books: 1 of 1 completed" in printed

    document = json.loads(out.read_text())
    memory, books = document["scenarios"]
    assert memory["images"] == 500 and memory["calls"] >= 500 and memory["expected_calls_per_image"] == 1.39
    assert books["images"] == 5 and books["calls"] >= 5
    assert document["books"]["crashed_jobs"] == 0
    # The bench leaves nothing behind: no books, no bench user.
    assert not BookJob.objects.exists()
    assert not django_user_model.objects.filter(username="bookstudio-benchretries").exists()


def test_the_same_seed_gives_the_same_in_memory_figures(capsys):
    call_command("benchretries", images=300, books=0, seed=11)
    first = capsys.readouterr().out
    call_command("benchretries", images=300, books=0, seed=11)
    assert capsys.readouterr().out == first


@pytest.mark.parametrize("options", [{"fault_rate": 1.0}, {"fault_rate": -0.1}, {"images": 0}, {"attempts": 0}])
def test_bad_options_are_refused_with_a_clear_error(options):
    with pytest.raises(CommandError):
        call_command("benchretries", books=0, **options)
