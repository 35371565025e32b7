"""The reports' background jobs, run by ``manage.py procrastinate worker``: the end-of-day summary, and the
hourly tallies the reports read (scanning/tallies.py), brought up to a minute ago."""

from datetime import UTC, datetime

from procrastinate.contrib.django import app

from reports import summary
from scanning import tallies

TASK = "reports.daily_summary"
TALLY_TASK = "reports.tally"
QUEUE = "reports"


# Procrastinate's cron reads UTC. Every 15 minutes, so the first run after the local midnight (settings
# .TIME_ZONE, whatever its offset, which is a multiple of 15 minutes) comes 5 to 20 minutes into the new day:
# the day's last scans have settled by then. The runs after find the day claimed and its mails sent: they
# send only what an earlier run failed to (reports/summary.py).
@app.periodic(cron="5,20,35,50 * * * *", periodic_id=TASK)
@app.task(name=TASK, queue=QUEUE, queueing_lock=TASK)
def send_daily_summary(timestamp: int) -> None:
    summary.run_periodic(datetime.fromtimestamp(timestamp, tz=UTC))


# Every minute; procrastinate defers a periodic job once per tick however many workers run, the lock keeps
# a second from queueing while one waits, and tally() holds its mark's row lock, so nothing is counted twice.
@app.periodic(cron="* * * * *", periodic_id=TALLY_TASK)
@app.task(name=TALLY_TASK, queue=QUEUE, queueing_lock=TALLY_TASK)
def tally_reports(timestamp: int) -> None:
    tallies.tally()
