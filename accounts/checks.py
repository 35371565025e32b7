"""Start-up checks of the rate limits (accounts/ratelimits.py): the cache alias they count in and their rates."""

from django.conf import settings
from django.core import checks

# The backends the counter knows how to count in (accounts.ratelimits.count_request).
REDIS_BACKEND = "django_redis.cache.RedisCache"
LOCAL_MEMORY_BACKEND = "django.core.cache.backends.locmem.LocMemCache"


@checks.register(checks.Tags.caches)
def check_rate_limit_cache(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Redis is the one shared counter. Local memory counts per process, so N workers let N times each rate
    through: a warning, silenced in settings when REDIS_URL is unset (development, one process). Any other
    backend would not count atomically, or not at all: an error."""
    alias = settings.RATELIMIT_USE_CACHE
    if alias not in settings.CACHES:
        return [checks.Error(f"RATELIMIT_USE_CACHE names {alias!r}, which is not in CACHES.", id="accounts.E001")]
    backend = settings.CACHES[alias]["BACKEND"]
    if backend == LOCAL_MEMORY_BACKEND:
        return [
            checks.Warning(
                f"The rate limits count in local memory ({alias!r} cache): each process counts on its own.",
                hint="Set REDIS_URL so every process shares the counts.",
                id="accounts.W001",
            )
        ]
    if backend != REDIS_BACKEND:
        return [
            checks.Error(
                f"The rate limits cannot count in the {alias!r} cache: {backend} is neither Redis nor local memory.",
                hint=f"Use {REDIS_BACKEND}.",
                id="accounts.E002",
            )
        ]
    return []


@checks.register()
def check_rates(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Each rate setting a rate limit reads parses, so a typo is seen at start-up, not on a request."""
    from accounts.ratelimits import RATE_SETTINGS, parse_rate

    errors = []
    for name in sorted(RATE_SETTINGS):
        try:
            parse_rate(getattr(settings, name))
        except (AttributeError, ValueError) as problem:
            errors.append(checks.Error(f"{name}: {problem}", id="accounts.E003"))
    return errors
