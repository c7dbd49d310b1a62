"""The speed benchmark behind ``manage.py bench``: a fake provider, worker processes, scenarios, a report.

Everything here runs the real pipeline (create_book, RQ worker processes, the OpenRouter provider
over HTTP, WeasyPrint); only the image model is replaced by a local server with a set latency.
"""
