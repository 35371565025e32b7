"""Password hashing off the gevent event loop.

Django's PBKDF2 (1,000,000 iterations) is 250-300 ms of CPU per login. On a gevent worker's event loop that
stalled every request of the worker meanwhile: scan p99 was 123 ms beside logins against 23 ms without
(issue 20). hashlib lets go of the GIL while it hashes, so done in one of gevent's own threads (the hub's
thread pool) the loop goes on serving scans while another core hashes. Outside gevent (manage.py, the
tests) it hashes where it is called. The algorithm and the stored hashes are Django's own.
"""

from django.contrib.auth import hashers
from gevent import monkey


def off_the_loop(function, *args):
    """``function(*args)``, in gevent's thread pool when gevent has patched this process, else in place."""
    if not monkey.is_module_patched("threading"):
        return function(*args)
    import gevent

    return gevent.get_hub().threadpool.apply(function, args)


class PBKDF2PasswordHasher(hashers.PBKDF2PasswordHasher):
    """Django's pbkdf2_sha256 (same name, same hashes), computed off the event loop. ``verify`` and
    ``harden_runtime`` hash through ``encode`` too."""

    def encode(self, password, salt, iterations=None):
        return off_the_loop(super().encode, password, salt, iterations)
