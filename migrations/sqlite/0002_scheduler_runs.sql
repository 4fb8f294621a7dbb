-- Background jobs that must run once per period across a cluster (the daily cleanup): the node
-- that moves last_run forward for a period runs the job; the others skip it.
CREATE TABLE scheduler_runs (
    job      TEXT    PRIMARY KEY,
    last_run INTEGER NOT NULL
);
