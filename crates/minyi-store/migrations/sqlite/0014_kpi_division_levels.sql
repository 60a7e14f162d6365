-- KPI roll-ups per division level (考核指标按区划层级汇总): beside the leaf rows (dim 'division',
-- item = the division a request is located at), kpi_rollup keeps one row per ancestor level —
-- dim 'division:city', 'division:district', 'division:street', 'division:community', item = the
-- leaf's ancestor at that level (itself included), '0' when it has none (located above that
-- level, or not located) — per local day and per calendar month, so that a report grouped by
-- district reads ~10 rows a day instead of every compound's.
-- Maintained in the same transactions (minyi-store/src/kpi.rs, the tree read inside the
-- transaction); rewritten from the leaf rows when a division moves (import_divisions); filled
-- here from the existing leaf rows.
WITH RECURSIVE up(leaf, node, parent, level, depth) AS (
        SELECT id, id, parent_id, level, 0 FROM divisions
        UNION ALL SELECT up.leaf, d.id, d.parent_id, d.level, up.depth + 1
        FROM up JOIN divisions d ON d.id = up.parent WHERE up.depth < 16),
    anc(leaf, node, level) AS (SELECT CAST(leaf AS TEXT), CAST(node AS TEXT), level FROM up),
    levels(level) AS (SELECT 'city' UNION ALL SELECT 'district' UNION ALL SELECT 'street'
        UNION ALL SELECT 'community')
INSERT INTO kpi_rollup (dim, grain, period, item, received, answered_at_intake, dispatched, first_dispatched, auto_dispatched, signed, signed_on_time, returned, first_returned, completed, completed_on_time, handling_ms, handling_work_s, rated, satisfied, solved, reopened, closed, escalated, urged)
    SELECT 'division:' || l.level, r.grain, r.period, COALESCE(a.node, '0'), SUM(r.received), SUM(r.answered_at_intake), SUM(r.dispatched), SUM(r.first_dispatched), SUM(r.auto_dispatched), SUM(r.signed), SUM(r.signed_on_time), SUM(r.returned), SUM(r.first_returned), SUM(r.completed), SUM(r.completed_on_time), SUM(r.handling_ms), SUM(r.handling_work_s), SUM(r.rated), SUM(r.satisfied), SUM(r.solved), SUM(r.reopened), SUM(r.closed), SUM(r.escalated), SUM(r.urged)
    FROM kpi_rollup r CROSS JOIN levels l
    LEFT JOIN anc a ON a.leaf = r.item AND a.level = l.level
    WHERE r.dim = 'division'
    GROUP BY l.level, r.grain, r.period, COALESCE(a.node, '0');
