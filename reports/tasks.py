"""The reports app's periodic job, run by ``manage.py procrastinate worker``: the hourly tallies the reports
read (scanning/tallies.py), brought up to a minute ago."""

from procrastinate.contrib.django import app

from scanning import tallies

QUEUE = "reports"


# Every minute; procrastinate defers a periodic job once per tick however many workers run, the lock keeps
# a second from queueing while one waits, and tally() holds its mark's row lock, so nothing is counted twice.
@app.periodic(cron="* * * * *", periodic_id="reports.tally")
@app.task(name="reports.tally", queue=QUEUE, queueing_lock="reports.tally")
def tally_reports(timestamp: int) -> None:
    tallies.tally()
