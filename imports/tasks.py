"""The imports app's background jobs, run by ``manage.py procrastinate worker`` (imports/jobs.py)."""

from procrastinate.contrib.django import app

from imports import jobs


@app.task(name=jobs.RUN_TASK, queue=jobs.QUEUE)
def run_import_job(job_id: int) -> None:
    jobs.run(job_id)


# Every minute; procrastinate defers a periodic job once per tick however many workers run.
@app.periodic(cron="* * * * *", periodic_id="imports.tidy")
@app.task(name="imports.tidy", queue=jobs.QUEUE, queueing_lock="imports.tidy")
def tidy_imports(timestamp: int) -> None:
    jobs.tidy()
