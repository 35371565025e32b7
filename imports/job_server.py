"""Loaded once by the fork server the import jobs are forked from (imports/jobs.py): Django set up, so a
job's process starts with the apps ready and no database connection open (it opens its own)."""

import os

import django

# A job's process runs one import on one connection: no pool, whose threads (8 MB of address space each)
# would count against the job's memory cap for nothing.
os.environ["DB_POOL_MAX_SIZE"] = "0"
django.setup()
