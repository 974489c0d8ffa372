-- Ceiling for single enqueues (pgbench -f this file -c 10): one job inserted and committed per
-- transaction, the way a queue without group commit enqueues.
INSERT INTO jobs (id, queue, kind, payload, run_at, priority, attempts, max_attempts, state, created_at)
VALUES (gen_random_uuid(), 'bench-insert', 'noop', '{"i": 1}', now(), 0, 0, 5, 'queued', now());
