"""scanning_scan_json(...): a scan event as the API shows it, the one place its JSON is built.

The scan loop's stored reply (scanning/managers.py), the bag detail (bags_bag_detail, bags 0010), the recent
scans and the undo and complete answers (ScanManager.event_json) all call it, so the API, the bag page and
the scan page cannot disagree. Times are UTC with microseconds, as scanning.openapi documents them; an undo
names the scan it takes back (``reverts``), no other event has the key. A plain SQL function: PostgreSQL
inlines it into the statement that calls it, so it costs no call per row.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION scanning_scan_json(
    p_id bigint, p_client_scan_id varchar, p_action varchar, p_bag_qr varchar, p_parent_qr varchar,
    p_created_at timestamptz, p_reverts_id bigint, p_undone boolean
) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
               'id', p_id, 'client_scan_id', p_client_scan_id, 'action', p_action, 'bag', p_bag_qr,
               'parent', p_parent_qr,
               'at', to_char(p_created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'undone', p_undone)
           || CASE WHEN p_reverts_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('reverts', p_reverts_id) END
$$;
"""

BACKWARD = "DROP FUNCTION scanning_scan_json(bigint, varchar, varchar, varchar, varchar, timestamptz, bigint, boolean);"


class Migration(migrations.Migration):
    dependencies = [("scanning", "0005_scan_tallies")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
