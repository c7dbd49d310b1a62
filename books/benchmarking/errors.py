class BenchError(Exception):
    """The bench cannot go on (no database, a worker died, a book never finished); the message says why."""
