"""The bag detail (a bag, its parent or children, bill and latest scans) as a PL/pgSQL function, called by
bags.managers.BagQuerySet.detail.

Why a function: the app binds values client-side (Django's default), so PostgreSQL plans every statement on
every execution, and planning this one (a dozen relations) cost three times running it: about 1 ms of the
lookup's 1.3. PL/pgSQL keeps a statement's plan for the session, and pooled connections live long, so the
query is planned once per connection. (Server-side binding with prepared statements would do the same for
everything, but psycopg forgets them on every ROLLBACK and Django turns them off by default.) Changing the
query means a new migration with CREATE OR REPLACE FUNCTION; tests/bags/test_detail.py compares its answer
with the plain ORM's.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION bags_bag_detail(p_qr_id text, p_restricted boolean, p_area_id bigint, p_scans integer)
RETURNS TABLE (
    qr_id varchar, kind varchar, product varchar, child_count integer, capacity smallint, completed_at timestamptz,
    dispatch_area varchar, created_at timestamptz, parent json, children json, bill json, scans json
)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH bag AS MATERIALIZED (
        SELECT id, qr_id, kind, child_count, completed_at, created_at, product_id, dispatch_area_id
        FROM bags_bag
        WHERE qr_id = p_qr_id AND (NOT p_restricted OR dispatch_area_id = p_area_id)
    )
    SELECT bag.qr_id, bag.kind, product.name, bag.child_count, product.capacity, bag.completed_at, area.name,
           bag.created_at,
           CASE WHEN bag.kind = 'child' THEN (
               SELECT json_build_object(
                          'qr_id', parent.qr_id, 'kind', parent.kind, 'product', parent_product.name,
                          'child_count', parent.child_count, 'capacity', parent_product.capacity,
                          'completed_at', parent.completed_at, 'dispatch_area', parent_area.name,
                          'created_at', parent.created_at, 'linked_at', link.created_at)
               FROM bags_link AS link
               JOIN bags_bag AS parent ON parent.id = link.parent_id
               LEFT JOIN bags_product AS parent_product ON parent_product.id = parent.product_id
               LEFT JOIN accounts_dispatcharea AS parent_area ON parent_area.id = parent.dispatch_area_id
               WHERE link.child_id = bag.id)
           END,
           CASE WHEN bag.kind = 'parent' THEN (
               SELECT json_agg(json_build_object('qr_id', child.qr_id, 'linked_at', link.created_at)
                               ORDER BY link.created_at, link.id)
               FROM bags_link AS link
               JOIN bags_bag AS child ON child.id = link.child_id
               WHERE link.parent_id = bag.id)
           END,
           CASE WHEN bag.kind = 'parent' THEN (
               SELECT json_build_object('id', bill.id, 'bill_number', bill.bill_number, 'customer', bill.customer,
                                        'status', bill.status)
               FROM bills_billbag AS entry
               JOIN bills_bill AS bill ON bill.id = entry.bill_id
               WHERE entry.parent_bag_id = bag.id)
           END,
           (SELECT json_agg(json_build_object(
                       'id', scan.id, 'client_scan_id', scan.client_scan_id, 'action', scan.action,
                       'bag', scan.bag_qr, 'parent', scan.parent_qr,
                       'at', to_char(scan.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                       'undone', EXISTS (SELECT 1 FROM scanning_scan AS undo WHERE undo.reverts_id = scan.id),
                       'reverts', scan.reverts_id) ORDER BY scan.created_at DESC, scan.id DESC)
            FROM (SELECT * FROM scanning_scan
                  WHERE (bag.kind = 'parent' AND parent_id = bag.id) OR (bag.kind = 'child' AND bag_id = bag.id)
                  ORDER BY created_at DESC, id DESC LIMIT p_scans) AS scan)
    FROM bag
    LEFT JOIN bags_product AS product ON product.id = bag.product_id
    LEFT JOIN accounts_dispatcharea AS area ON area.id = bag.dispatch_area_id;
END $$;
"""

BACKWARD = "DROP FUNCTION bags_bag_detail(text, boolean, bigint, integer);"


class Migration(migrations.Migration):
    dependencies = [
        ("bags", "0006_bag_totals"),
        ("bills", "0003_bill_product_and_finalise_snapshot"),
        ("scanning", "0002_scan_replies_and_undo_links"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
