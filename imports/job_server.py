"""Loaded once by the fork server the import jobs are forked from (imports/jobs.py): Django set up, so a
job's process starts with the apps ready and no database connection open (it opens its own)."""

import django

django.setup()
