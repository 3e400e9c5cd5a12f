-- The ceiling a durable webhook is measured against: what PostgreSQL itself does per second
-- when each transaction stores one event (an insert of a webhook-sized row) and updates one
-- item (the work item or instance it concerns) — the least a webhook that is stored and
-- applied needs. Run by tools/bench.sh with pgbench, 8 clients, on the same PostgreSQL as
-- flowhook, in the same sitting.
\set id random(1, 100000)
BEGIN;
INSERT INTO bench_events (item, body) VALUES (:id, repeat('x', 1200));
UPDATE bench_items SET n = n + 1, status = 'seen' WHERE id = :id;
END;
