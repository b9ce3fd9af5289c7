"""The Celery app built from the environment, for ``celery -A kitsync.worker.celery_app`` (and
Flower). ``kitsync worker`` / ``kitsync beat`` use it too."""

from kitsync.config import load_settings
from kitsync.worker.app import create_celery

app = create_celery(load_settings(["kitsu", "ayon", "redis"]))
