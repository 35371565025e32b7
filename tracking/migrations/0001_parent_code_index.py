"""The parents' codes in their own index, for the bag list sorted by code with only parents in it
(tracking/bag_list.py): in the index of every code the 1.9 million children's codes sort before the first
parent's. 60,000 entries, of columns that never change (a scan's update of a parent's count changes no indexed
column). Built concurrently: bags_bag is written by every scan.
"""

from django.db import migrations

from bags.choices import BagKind
from traitortrack.indexes import concurrent_index

PARENT_CODES = f"ON bags_bag (qr_id varchar_pattern_ops) WHERE kind = {BagKind.PARENT.literal}"


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("bags", "0014_bag_detail_current_bill")]

    operations = concurrent_index("bag_parent_code_idx", PARENT_CODES)
