"""The bag detail (bags_bag_detail, 0007 and 0009) takes its scans' JSON from scanning_scan_json (scanning
0006), the one definition of a scan event's shape, instead of building its own (which also named
``reverts`` on every event, where the API names it only on an undo).
"""

from importlib import import_module

from django.db import migrations

BEFORE = import_module("bags.migrations.0009_bag_detail_child_scans_in_the_viewers_area").FORWARD
OWN_JSON = """(SELECT json_agg(json_build_object(
                       'id', scan.id, 'client_scan_id', scan.client_scan_id, 'action', scan.action,
                       'bag', scan.bag_qr, 'parent', scan.parent_qr,
                       'at', to_char(scan.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                       'undone', EXISTS (SELECT 1 FROM scanning_scan AS undo WHERE undo.reverts_id = scan.id),
                       'reverts', scan.reverts_id) ORDER BY scan.created_at DESC, scan.id DESC)"""
SCANNING_JSON = """(SELECT json_agg(scanning_scan_json(
                       scan.id, scan.client_scan_id, scan.action, scan.bag_qr, scan.parent_qr, scan.created_at,
                       scan.reverts_id, EXISTS (SELECT 1 FROM scanning_scan AS undo WHERE undo.reverts_id = scan.id))
                   ORDER BY scan.created_at DESC, scan.id DESC)"""
assert BEFORE.count(OWN_JSON) == 1
FORWARD = BEFORE.replace(OWN_JSON, SCANNING_JSON)


class Migration(migrations.Migration):
    dependencies = [
        ("bags", "0009_bag_detail_child_scans_in_the_viewers_area"),
        ("scanning", "0006_scan_event_json_function"),
    ]

    operations = [migrations.RunSQL(FORWARD, BEFORE)]
