"""Periodic jobs, run by RQ's cron scheduler: `python manage.py rqcron books.cron`.

One scheduler process per deployment is enough; the job itself runs on any worker.
"""

from rq import cron

from books import tasks

# A book whose worker died is marked failed within about a minute, so its owner can regenerate it.
cron.register(tasks.recover_orphaned_books, queue_name="default", interval=30)
