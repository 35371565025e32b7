"""The base of the apps' choices that raw SQL reads too."""

from django.db import models
from psycopg import sql


class SQLTextChoices(models.TextChoices):
    """TextChoices whose members compose into a raw SQL statement as literals (``kind = {BagKind.PARENT.literal}``),
    quoted by psycopg, when the statement is built at import time: the SQL reads the enum, never a copy."""

    @property
    def literal(self) -> str:
        return sql.Literal(self.value).as_string()
