"""Load millions of synthetic bags and links for benchmarks: ``manage.py seed_bulk --bags 2000000``."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import DispatchArea, User
from imports import seeding
from imports.management.base import Bar


class Command(BaseCommand):
    help = (
        "Load N synthetic bags (about 3% parents spread over the products, the rest children, most linked) "
        "with PostgreSQL COPY, in one transaction, next to whatever is already there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bags", type=int, required=True, help="Bags to add, parents and children together.")
        parser.add_argument(
            "--parents",
            type=int,
            default=None,
            # argparse formats help with %: a literal percent sign is written %%.
            help=f"Parent bags among them (default {seeding.DEFAULT_PARENT_SHARE:.0%}% of --bags, at least 1).",
        )
        parser.add_argument(
            "--linked-fraction",
            type=float,
            default=seeding.DEFAULT_LINKED_FRACTION,
            help="Share of the children put into a parent (default %(default)s).",
        )
        parser.add_argument("--seed", type=int, default=None, help="Random seed, for the same fill levels again.")
        parser.add_argument(
            "--with-scans",
            action="store_true",
            help="Also write the scan events (one per parent opened, one per link); needs --user.",
        )
        parser.add_argument("--user", help="Username the bags, links and scans are made by (default: nobody).")
        parser.add_argument("--area", help="Dispatch area code of the bags (default: the user's area, or none).")
        parser.add_argument(
            "--days",
            type=int,
            default=seeding.DEFAULT_HISTORY_DAYS,
            help="Spread created_at over this many days up to now (default %(default)s).",
        )

    def handle(self, *args, **options) -> None:
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"]).select_related("dispatch_area").first()
            if user is None:
                raise CommandError(f"No user named {options['user']!r}.")
        area = None
        if options["area"]:
            area = DispatchArea.objects.filter(code=options["area"]).first()
            if area is None:
                raise CommandError(f"No dispatch area with code {options['area']!r}.")
        bar = Bar(enabled=options["verbosity"] > 0)
        try:
            result = seeding.seed_bulk(
                bags=options["bags"],
                parents=options["parents"],
                linked_fraction=options["linked_fraction"],
                seed=options["seed"],
                with_scans=options["with_scans"],
                user=user,
                area=area,
                history_days=options["days"],
                progress=bar,
            )
        except seeding.SeedRefused as exc:
            raise CommandError(exc.message) from exc
        finally:
            bar.close()

        by_product = ", ".join(f"{code} {count:,}" for code, count in result.parents_by_product.items() if count)
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {result.bags:,} bags: {result.parents:,} parents ({by_product or 'none'}) "
                f"and {result.children:,} children."
            )
        )
        self.stdout.write(
            f"  links: {result.links:,} ({result.children - result.links:,} children left unlinked); "
            f"full parents: {result.full_parents:,}; scan events: {result.scans:,}"
        )
        if result.first_child_code:
            self.stdout.write(f"  child codes: {result.first_child_code} .. {result.last_child_code}")
        rate = result.rows / result.seconds if result.seconds else 0
        self.stdout.write(f"  {result.rows:,} rows in {result.seconds:.1f} s ({rate:,.0f} rows/s)")
