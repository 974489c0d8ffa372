-- Raw ceiling for the queue (pgbench -f this file): claim one due job and complete it in one
-- transaction, the SQL a strict one-job-per-transaction queue has to run at the least.
BEGIN;
UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = gen_random_uuid(),
    lease_until = now() + interval '60 seconds', locked_by = 'pgbench'
  WHERE id = (
    SELECT id FROM jobs
    WHERE queue = 'bench' AND state = 'queued' AND run_at <= now()
    ORDER BY priority DESC, run_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED)
  RETURNING id AS job_id \gset
DELETE FROM jobs WHERE id = ':job_id'::uuid;
COMMIT;
