import time

from django.core.cache import cache
from django.db import models

from bags import qr

PARENT_FORMATS_CACHE_KEY = "bags:parent-formats:v1"


class BagQuerySet(models.QuerySet):
    def restrict(self, user) -> "BagQuerySet":
        """The bags this user may see: a dispatcher only their own area's, billers and admins all."""
        if user.is_dispatcher:
            return self.filter(dispatch_area_id=user.dispatch_area_id)
        return self


# The formats as this process last read them, and until when (time.monotonic()) it may use them
# without asking the cache: every scan needs them, and a Redis round trip and an unpickle per scan was
# 7% of a scan's CPU. A format a few seconds old is safe: the database refuses a child with a parent's
# code (trigger bag_parent_code_not_for_children), and the scan services then forget and decide again.
PARENT_FORMATS_LOCAL_SECONDS = 5.0
_local_formats: tuple[float, tuple[qr.ParentFormat, ...]] | None = None


class ProductQuerySet(models.QuerySet):
    def parent_formats(self) -> tuple[qr.ParentFormat, ...]:
        """Every product's parent code format, kept in this process for a few seconds and in the cache
        for five minutes: every scan needs them, they change rarely.

        Inactive products included: a product taken out of use still owns its codes (SB12345 must
        never become a child bag); refusing new parents of an inactive product is the services' job.
        """
        global _local_formats
        now = time.monotonic()
        if _local_formats is not None and _local_formats[0] > now:
            return _local_formats[1]
        formats = cache.get(PARENT_FORMATS_CACHE_KEY)
        if formats is None:
            formats = tuple(product.parent_format for product in self.order_by("code"))
            cache.set(PARENT_FORMATS_CACHE_KEY, formats, 300)
        _local_formats = (now + PARENT_FORMATS_LOCAL_SECONDS, formats)
        return formats


def forget_parent_formats() -> None:
    """Called after a product changes, so the next scan sees the new formats (other processes within
    PARENT_FORMATS_LOCAL_SECONDS)."""
    global _local_formats
    _local_formats = None
    cache.delete(PARENT_FORMATS_CACHE_KEY)
