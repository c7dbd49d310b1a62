"""The speed benchmark behind ``manage.py bench``: a fake provider, worker processes, scenarios, a report.

Everything here runs the real pipeline (create_book, ``manage.py rqworker`` processes, the OpenRouter
provider over HTTP, WeasyPrint); only the image model is replaced by a local server with a set
latency. The documented run, on PostgreSQL and a spare Redis database that the bench empties::

    createdb -h 127.0.0.1 -U postgres bookstudio_bench
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/bookstudio_bench REDIS_URL=redis://127.0.0.1:6379/3
    .venv/bin/python manage.py migrate
    .venv/bin/python manage.py bench --json bench.json     # about 3 minutes on 2 cores

``--help`` lists the knobs (``--scenarios 1,3``, sizes, worker counts). Scenarios live in
``scenarios/``, one module each; ``context.py`` sets up and undoes everything around them.
"""
