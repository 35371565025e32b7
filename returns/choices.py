"""The returns app's choices, read by the models, the services and the templates."""

from traitortrack.choices import SQLTextChoices


class ReturnStatus(SQLTextChoices):
    DRAFT = "draft", "Draft"
    COMMITTED = "committed", "Committed"
    CANCELLED = "cancelled", "Cancelled"
