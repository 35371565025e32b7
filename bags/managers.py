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


class ProductQuerySet(models.QuerySet):
    def parent_formats(self) -> tuple[qr.ParentFormat, ...]:
        """Every product's parent code format, cached: every scan needs them, they change rarely.

        Inactive products included: a product taken out of use still owns its codes (SB12345 must
        never become a child bag); refusing new parents of an inactive product is the services' job.
        """
        formats = cache.get(PARENT_FORMATS_CACHE_KEY)
        if formats is None:
            formats = tuple(product.parent_format for product in self.order_by("code"))
            cache.set(PARENT_FORMATS_CACHE_KEY, formats, 300)
        return formats


def forget_parent_formats() -> None:
    """Called after a product changes, so the next scan sees the new formats."""
    cache.delete(PARENT_FORMATS_CACHE_KEY)
