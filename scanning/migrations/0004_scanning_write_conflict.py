"""scanning_write_conflict(reason): raises a serialization failure (SQLSTATE 40001).

The scan write statements (scanning/managers.py) are sent with their COMMIT in one round trip. When one
finds its work half done by a concurrent request (linked, but another request took the client scan id
meanwhile), it calls this, so the statement fails, the COMMIT after it never runs, and the service rolls
back and decides again: nothing half-written is ever committed.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION scanning_write_conflict(reason text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'scan written by a concurrent request: %', reason USING ERRCODE = 'serialization_failure';
END $$;
"""

BACKWARD = "DROP FUNCTION scanning_write_conflict(text);"


class Migration(migrations.Migration):
    dependencies = [("scanning", "0003_scan_import_action")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
