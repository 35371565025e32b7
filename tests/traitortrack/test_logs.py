"""A Redis outage is logged once with its traceback, then summarised every 30 s while it lasts
(traitortrack/logs.py), instead of a traceback for every failed cache call."""

import logging

import pytest

from traitortrack import logs


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(logs, "monotonic", clock)
    return clock


@pytest.fixture
def cache_log(monkeypatch, caplog):
    """The cache logger with a fresh outage filter (as settings.LOGGING gives it), its records captured."""
    logger = logging.getLogger("traitortrack.cache")
    assert [type(f) for f in logger.filters] == [logs.OutageFilter]  # the settings install it
    monkeypatch.setattr(logger, "filters", [logs.OutageFilter()])
    caplog.set_level(logging.INFO, logger="traitortrack.cache")
    return caplog


def cache_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "traitortrack.cache"]


def test_an_outage_logs_its_first_failure_whole_then_a_summary_every_30_s(dead_redis_cache, cache_log, clock):
    for _ in range(200):
        assert dead_redis_cache.get("anything") is None  # ignored: the page goes on
    first = cache_records(cache_log)
    assert len(first) == 1 and first[0].exc_info is not None

    clock.now += 31
    dead_redis_cache.get("anything")

    records = cache_records(cache_log)
    assert len(records) == 2
    assert records[1].exc_info is None
    assert "still failing: 200 more in the last 31 s, 201 in this outage" in records[1].getMessage()


def test_a_failure_after_a_quiet_minute_is_a_new_outage_logged_whole(dead_redis_cache, cache_log, clock):
    dead_redis_cache.get("anything")
    clock.now += 61
    dead_redis_cache.get("anything")

    assert [record.exc_info is not None for record in cache_records(cache_log)] == [True, True]


def test_a_summary_keeps_the_line_s_own_arguments(clock):
    # The rate limits log "rate limit %s: counter unavailable" with the limit's name: the summary once formatted
    # it with its own format and raised TypeError, which made that scan a 500 (seen 30 s into the Redis drill).
    outage = logs.OutageFilter()

    def failure() -> logging.LogRecord:
        message = "rate limit %s: counter unavailable"
        return logging.LogRecord("accounts.ratelimits", logging.ERROR, __file__, 1, message, ("scan",), None)

    assert outage.filter(failure())
    assert not outage.filter(failure())
    clock.now += 31
    summary = failure()

    assert outage.filter(summary)
    assert summary.getMessage() == (
        "rate limit scan: counter unavailable (still failing: 2 more in the last 31 s, 3 in this outage;"
        " traceback above)"
    )


def test_the_rate_limits_logger_has_the_filter_too():
    assert [type(f) for f in logging.getLogger("accounts.ratelimits").filters] == [logs.OutageFilter]


def test_lines_below_warning_always_pass(clock):
    outage = logs.OutageFilter()
    record = logging.LogRecord("traitortrack.cache", logging.INFO, __file__, 1, "fine", (), None)

    assert all(outage.filter(record) for _ in range(5))
