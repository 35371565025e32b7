from django.apps import AppConfig


class BagsConfig(AppConfig):
    name = "bags"
