import pytest
from django.core.cache import cache

from reports.exceptions import COUNT_CACHE_KEY


@pytest.fixture(autouse=True)
def _no_kept_exception_count():
    # The navbar's count stays a minute in the cache (local memory in tests): a test starts without one.
    cache.delete(COUNT_CACHE_KEY)
