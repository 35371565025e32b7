"""The reports' background job, run by ``manage.py procrastinate worker``: the end-of-day summary."""

from datetime import UTC, datetime

from procrastinate.contrib.django import app

from reports import summary

TASK = "reports.daily_summary"
QUEUE = "reports"


# Procrastinate's cron reads UTC. Every 15 minutes, so the first run after the local midnight (settings
# .TIME_ZONE, whatever its offset, which is a multiple of 15 minutes) comes 5 to 20 minutes into the new day:
# the day's last scans have settled by then. The runs after find the day claimed and its mails sent: they
# send only what an earlier run failed to (reports/summary.py).
@app.periodic(cron="5,20,35,50 * * * *", periodic_id=TASK)
@app.task(name=TASK, queue=QUEUE, queueing_lock=TASK)
def send_daily_summary(timestamp: int) -> None:
    summary.run_periodic(datetime.fromtimestamp(timestamp, tz=UTC))
