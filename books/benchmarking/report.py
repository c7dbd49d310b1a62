"""The bench's results: one Row per measurement, printed as a table and written as JSON."""

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Row:
    scenario: int
    name: str  # what was measured, e.g. "book wall time W=2"
    value: float
    unit: str
    reference: float | None = None  # the ideal or expected value the target compares against
    ratio: float | None = None
    target: str = ""  # in words, e.g. "ratio <= 1.3"
    ok: bool | None = None  # None: reported, no target
    note: str = ""
    details: dict = field(default_factory=dict)


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(rows: list[Row]) -> str:
    header = ("#", "measurement", "measured", "reference", "ratio", "target", "result")
    lines = [
        (
            str(row.scenario),
            row.name,
            _number(row.value, row.unit),
            _number(row.reference, row.unit) if row.reference is not None else "-",
            _number(row.ratio) if row.ratio is not None else "-",
            row.target or "-",
            "-" if row.ok is None else ("ok" if row.ok else "MISSED"),
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]

    def render(cells) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    out = [render(header), render(["-" * width for width in widths])]
    out += [render(cells) for cells in lines]
    notes = [f"[{row.scenario}] {row.name}: {row.note}" for row in rows if row.note]
    return "\n".join(out + (["", *notes] if notes else []))


def _database() -> str:
    from django.db import connection

    connection.ensure_connection()
    if connection.vendor == "postgresql":
        version = connection.pg_version  # e.g. 160004 for 16.4
        return f"PostgreSQL {version // 10000}.{version % 10000}"
    if connection.vendor == "sqlite":
        return f"SQLite {connection.Database.sqlite_version}"
    return connection.vendor


def machine() -> dict:
    import django_rq
    import weasyprint

    model, memory_kb = "", 0
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        memory_kb = next((int(line.split()[1]) for line in meminfo if line.startswith("MemTotal")), 0)
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "database": _database(),
        "redis": django_rq.get_connection("default").info("server").get("redis_version", "?"),
        "weasyprint": weasyprint.__version__,
    }


def write_json(
    path: Path, *, rows: list[Row], config: dict, machine_info: dict, notes: list[str], seconds: float
) -> None:
    document = {
        "machine": machine_info,
        "config": config,
        "duration_s": round(seconds, 1),
        "notes": notes,
        "results": [asdict(row) for row in rows],
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
