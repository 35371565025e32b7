"""A small demo set for a fresh checkout: one user per role, two parents with children, a draft bill."""

from django.core.management.base import BaseCommand

from imports import seeding

SITE_URL = "http://127.0.0.1:8000/"


class Command(BaseCommand):
    help = (
        "Create one demo user per role (admin, biller, dispatcher) with random passwords shown once, plus a "
        "few bags and a draft bill. Safe to run again: nothing that exists is changed."
    )

    def handle(self, *args, **options) -> None:
        result = seeding.seed_demo()
        created = [user for user in result.users if user.password is not None]
        existing = [user for user in result.users if user.password is None]

        if created:
            self.stdout.write(self.style.SUCCESS("Demo users created. The passwords are shown this once only:"))
            self.stdout.write("")
            rows = [("ROLE", "USERNAME", "PASSWORD")] + [(u.role, u.username, u.password or "") for u in created]
            widths = [max(len(row[col]) for row in rows) for col in range(3)]
            for row in rows:
                cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                self.stdout.write(("  " + "  ".join(cells)).rstrip())
            self.stdout.write("")
        for user in existing:
            self.stdout.write(f"User {user.username!r} ({user.role}) already exists; left unchanged.")
        if existing:
            self.stdout.write("To set a new password: manage.py changepassword USERNAME")

        self.stdout.write(result.bags_note)
        self.stdout.write("")
        self.stdout.write(f"Open {SITE_URL}  (log in at {SITE_URL}accounts/login/, Django admin at {SITE_URL}admin/)")
