-- Tables for tools/bench/pgbench.sql: 100,000 items and an event log.
DROP TABLE IF EXISTS bench_events, bench_items;
CREATE TABLE bench_items (id int PRIMARY KEY, status text NOT NULL, n int NOT NULL);
INSERT INTO bench_items SELECT g, 'new', 0 FROM generate_series(1, 100000) g;
CREATE TABLE bench_events (id bigserial PRIMARY KEY, item int NOT NULL, body text NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON bench_events (item);
VACUUM ANALYZE bench_items;
