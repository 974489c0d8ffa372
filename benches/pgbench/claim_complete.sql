-- Raw ceiling for the queue: claim one due job and complete it, one transaction per job,
-- the minimum SQL any PostgreSQL queue has to run (pgbench -f this file).
BEGIN;
DELETE FROM jobs WHERE id = (
  SELECT id FROM jobs
  WHERE queue = 'bench' AND state = 'queued' AND run_at <= now()
  ORDER BY priority DESC, run_at
  LIMIT 1
  FOR UPDATE SKIP LOCKED
);
COMMIT;
