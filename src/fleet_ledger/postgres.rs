//! The fleet ledger on PostgreSQL: three tables, created on first use, and one statement per call
//! (each its own transaction, each an unnamed statement: no session state, so PgBouncer's transaction
//! mode serves it). The connection is the fleet lock's (`lock::postgres::PgClient`).
//!
//! - `cronbeat_runs`: one row per run, written when it starts and completed when it ends; the record is
//!   the local ledger's JSON, the other columns are what the readers select on;
//! - `cronbeat_jobs`: one row per job, run or declared, with the declared schedule;
//! - `cronbeat_hosts`: one row per job and host that ran it, so "hosts seen" is not a scan of the runs.

use std::time::{Duration, SystemTime};

use tokio_postgres::types::Type;
use tokio_postgres::Row;

use super::store::{Declaration, Declared, End, Forgot, JobState, Start, StoredRun};
use crate::lock::postgres::{describe, PgClient};
use crate::lock::Engine;

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS cronbeat_runs (
    name text NOT NULL,
    run_id text NOT NULL,
    host text NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    expect_by timestamptz,
    outcome text NOT NULL,
    success boolean NOT NULL DEFAULT false,
    failure boolean NOT NULL DEFAULT false,
    record text NOT NULL,
    tail bytea,
    PRIMARY KEY (name, run_id)
);
CREATE INDEX IF NOT EXISTS cronbeat_runs_started ON cronbeat_runs (name, started_at DESC);
CREATE INDEX IF NOT EXISTS cronbeat_runs_finished ON cronbeat_runs (name, finished_at DESC)
    WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS cronbeat_runs_successes ON cronbeat_runs (name, finished_at DESC) WHERE success;
CREATE INDEX IF NOT EXISTS cronbeat_runs_failures ON cronbeat_runs (name, finished_at) WHERE failure;
CREATE TABLE IF NOT EXISTS cronbeat_jobs (
    name text PRIMARY KEY,
    schedule text,
    tz text,
    grace_ms bigint,
    declared_at timestamptz,
    updated_at timestamptz,
    hosts text[] NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS cronbeat_hosts (
    name text NOT NULL,
    host text NOT NULL,
    last_seen timestamptz NOT NULL,
    PRIMARY KEY (name, host)
);";

/// A new schedule (or zone) is a new declaration: the job is due from then on.
const DECLARE: &str = "
INSERT INTO cronbeat_jobs AS j (name, schedule, tz, grace_ms, declared_at, updated_at, hosts)
VALUES ($1, $2, $3, $4, $5, $5, ARRAY[$6::text])
ON CONFLICT (name) DO UPDATE SET
    declared_at = CASE WHEN j.declared_at IS NULL OR j.schedule IS DISTINCT FROM EXCLUDED.schedule
                            OR j.tz IS DISTINCT FROM EXCLUDED.tz
                       THEN EXCLUDED.declared_at ELSE j.declared_at END,
    schedule = EXCLUDED.schedule, tz = EXCLUDED.tz, grace_ms = EXCLUDED.grace_ms,
    updated_at = EXCLUDED.updated_at,
    hosts = CASE WHEN $6::text = ANY(j.hosts) THEN j.hosts ELSE array_append(j.hosts, $6::text) END";

const LATEST_SUCCESS: &str = "
SELECT finished_at, host FROM cronbeat_runs WHERE name = $1 AND success
ORDER BY finished_at DESC LIMIT 1";

const START: &str = "
WITH job AS (
    INSERT INTO cronbeat_jobs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING
), seen AS (
    INSERT INTO cronbeat_hosts AS h (name, host, last_seen) VALUES ($1, $3, $4)
    ON CONFLICT (name, host) DO UPDATE SET last_seen = greatest(h.last_seen, EXCLUDED.last_seen)
)
INSERT INTO cronbeat_runs (name, run_id, host, started_at, expect_by, outcome, record)
VALUES ($1, $2, $3, $4, $5, 'running', $6)
ON CONFLICT (name, run_id) DO NOTHING";

const RENEW: &str = "
UPDATE cronbeat_runs SET expect_by = $3 WHERE name = $1 AND run_id = $2 AND finished_at IS NULL";

/// The end, and the start if it never arrived; the job keeps this run and its `$11` newest others, the
/// rest dropped in the same statement, but for its latest success (which `--after` asks for).
const END: &str = "
WITH job AS (
    INSERT INTO cronbeat_jobs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING
), seen AS (
    INSERT INTO cronbeat_hosts AS h (name, host, last_seen) VALUES ($1, $3, $4)
    ON CONFLICT (name, host) DO UPDATE SET last_seen = greatest(h.last_seen, EXCLUDED.last_seen)
), trimmed AS (
    DELETE FROM cronbeat_runs WHERE name = $1 AND run_id <> $2 AND started_at <= (
        SELECT started_at FROM cronbeat_runs WHERE name = $1 AND run_id <> $2
        ORDER BY started_at DESC OFFSET $11 LIMIT 1)
      AND run_id IS DISTINCT FROM (
        SELECT run_id FROM cronbeat_runs WHERE name = $1 AND success ORDER BY finished_at DESC LIMIT 1)
)
INSERT INTO cronbeat_runs AS r
    (name, run_id, host, started_at, finished_at, expect_by, outcome, success, failure, record, tail)
VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $9, $10)
ON CONFLICT (name, run_id) DO UPDATE SET
    started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, expect_by = NULL, outcome = EXCLUDED.outcome,
    success = EXCLUDED.success, failure = EXCLUDED.failure, record = EXCLUDED.record, tail = EXCLUDED.tail";

/// Each job: its declaration, latest run, latest finished run, latest success, the failures finished
/// since, and its hosts. Every lateral is an index scan of a few rows.
const JOBS: &str = "
SELECT j.name, j.schedule, j.tz, j.grace_ms, j.declared_at, j.updated_at, j.hosts,
       l.host, l.started_at, l.finished_at, l.expect_by, l.record,
       f.host, f.started_at, f.finished_at, f.record,
       s.finished_at, s.host,
       (SELECT count(*) FROM cronbeat_runs x
         WHERE x.name = j.name AND x.failure AND x.finished_at > coalesce(s.finished_at, '-infinity')),
       ARRAY(SELECT h.host FROM cronbeat_hosts h WHERE h.name = j.name ORDER BY h.host)
FROM cronbeat_jobs j
LEFT JOIN LATERAL (
    SELECT host, started_at, finished_at, expect_by, record FROM cronbeat_runs r
    WHERE r.name = j.name ORDER BY started_at DESC LIMIT 1) l ON true
LEFT JOIN LATERAL (
    SELECT host, started_at, finished_at, record FROM cronbeat_runs r
    WHERE r.name = j.name AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1) f ON true
LEFT JOIN LATERAL (
    SELECT finished_at, host FROM cronbeat_runs r
    WHERE r.name = j.name AND success ORDER BY finished_at DESC LIMIT 1) s ON true
WHERE cardinality($1::text[]) = 0 OR j.name = ANY($1::text[])
ORDER BY j.name";

const HISTORY: &str = "
SELECT host, started_at, finished_at, expect_by, record FROM cronbeat_runs
WHERE name = $1 ORDER BY started_at DESC LIMIT $2";

const LAST_OUTPUT: &str = "
SELECT host, started_at, finished_at, expect_by, record, tail FROM cronbeat_runs
WHERE name = $1 AND tail IS NOT NULL AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1";

const PRUNE: &str = "
WITH ranked AS (
    SELECT name, run_id, row_number() OVER (PARTITION BY name ORDER BY started_at DESC) AS n
    FROM cronbeat_runs WHERE cardinality($2::text[]) = 0 OR name = ANY($2::text[])
), dropped AS (
    DELETE FROM cronbeat_runs r USING ranked
    WHERE r.name = ranked.name AND r.run_id = ranked.run_id AND ranked.n > $1
      AND r.run_id IS DISTINCT FROM (
        SELECT s.run_id FROM cronbeat_runs s WHERE s.name = r.name AND s.success
        ORDER BY s.finished_at DESC LIMIT 1)
    RETURNING 1
)
SELECT count(*) FROM dropped";

/// Each named job with no run under way at `$2` (one whose promise has passed is stuck, not under
/// way): its rows in the three tables deleted. A row per name: the run under way, if any, how many runs
/// were deleted, and whether anything of the job was kept.
const FORGET: &str = "
WITH named AS (
    SELECT DISTINCT unnest($1::text[]) AS name
), busy AS (
    SELECT DISTINCT ON (r.name) r.name, r.host, r.started_at FROM cronbeat_runs r
    WHERE r.name IN (SELECT name FROM named) AND r.finished_at IS NULL AND r.expect_by >= $2
    ORDER BY r.name, r.started_at DESC
), going AS (
    SELECT name FROM named WHERE name NOT IN (SELECT name FROM busy)
), runs AS (
    DELETE FROM cronbeat_runs WHERE name IN (SELECT name FROM going) RETURNING name
), jobs AS (
    DELETE FROM cronbeat_jobs WHERE name IN (SELECT name FROM going) RETURNING name
), hosts AS (
    DELETE FROM cronbeat_hosts WHERE name IN (SELECT name FROM going) RETURNING name
)
SELECT n.name, b.host, b.started_at,
       (SELECT count(*) FROM runs r WHERE r.name = n.name),
       EXISTS (SELECT 1 FROM jobs j WHERE j.name = n.name)
           OR EXISTS (SELECT 1 FROM hosts h WHERE h.name = n.name)
FROM named n LEFT JOIN busy b ON b.name = n.name";

pub struct PgLedger {
    pg: PgClient,
}

fn ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

impl PgLedger {
    pub fn new(engine: &Engine) -> PgLedger {
        PgLedger {
            pg: PgClient::new(engine, CREATE, "fleet ledger"),
        }
    }

    pub async fn warm(&mut self) -> Result<(), String> {
        self.pg.warm().await
    }

    pub async fn close(&mut self) {
        self.pg.close().await
    }

    pub async fn declare(&mut self, d: &Declaration, now: SystemTime) -> Result<(), String> {
        let grace = ms(d.grace);
        self.pg
            .query(
                DECLARE,
                &[
                    (&d.name, Type::TEXT),
                    (&d.schedule, Type::TEXT),
                    (&d.tz, Type::TEXT),
                    (&grace, Type::INT8),
                    (&now, Type::TIMESTAMPTZ),
                    (&d.host, Type::TEXT),
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn latest_success(
        &mut self,
        name: &str,
    ) -> Result<Option<(SystemTime, String)>, String> {
        let rows = self
            .pg
            .query(LATEST_SUCCESS, &[(&name, Type::TEXT)])
            .await?;
        match rows.first() {
            Some(row) => Ok(Some((
                row.try_get(0).map_err(describe)?,
                row.try_get(1).map_err(describe)?,
            ))),
            None => Ok(None),
        }
    }

    pub async fn start(&mut self, s: &Start<'_>) -> Result<(), String> {
        self.pg
            .query(
                START,
                &[
                    (&s.name, Type::TEXT),
                    (&s.run_id, Type::TEXT),
                    (&s.host, Type::TEXT),
                    (&s.started_at, Type::TIMESTAMPTZ),
                    (&s.expect_by, Type::TIMESTAMPTZ),
                    (&s.record, Type::TEXT),
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn renew(
        &mut self,
        name: &str,
        run_id: &str,
        expect_by: SystemTime,
    ) -> Result<(), String> {
        self.pg
            .query(
                RENEW,
                &[
                    (&name, Type::TEXT),
                    (&run_id, Type::TEXT),
                    (&expect_by, Type::TIMESTAMPTZ),
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn end(&mut self, e: &End<'_>) -> Result<(), String> {
        let offset = e.keep_runs.max(1) as i64 - 1;
        self.pg
            .query(
                END,
                &[
                    (&e.name, Type::TEXT),
                    (&e.run_id, Type::TEXT),
                    (&e.host, Type::TEXT),
                    (&e.started_at, Type::TIMESTAMPTZ),
                    (&e.finished_at, Type::TIMESTAMPTZ),
                    (&e.outcome, Type::TEXT),
                    (&e.success, Type::BOOL),
                    (&e.failure, Type::BOOL),
                    (&e.record, Type::TEXT),
                    (&e.tail, Type::BYTEA),
                    (&offset, Type::INT8),
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn jobs(&mut self, names: &[String]) -> Result<Vec<JobState>, String> {
        let rows = self.pg.query(JOBS, &[(&names, Type::TEXT_ARRAY)]).await?;
        rows.iter().map(job_state).collect()
    }

    pub async fn history(&mut self, name: &str, count: usize) -> Result<Vec<StoredRun>, String> {
        let count = count.min(i64::MAX as usize) as i64;
        let rows = self
            .pg
            .query(HISTORY, &[(&name, Type::TEXT), (&count, Type::INT8)])
            .await?;
        rows.iter().map(|row| stored_run(row, 0)).collect()
    }

    pub async fn last_output(
        &mut self,
        name: &str,
    ) -> Result<Option<(StoredRun, Vec<u8>)>, String> {
        let rows = self.pg.query(LAST_OUTPUT, &[(&name, Type::TEXT)]).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let tail: Vec<u8> = row.try_get(5).map_err(describe)?;
        Ok(Some((stored_run(row, 0)?, tail)))
    }

    pub async fn forget(
        &mut self,
        names: &[String],
        now: SystemTime,
    ) -> Result<Vec<(String, Forgot)>, String> {
        let rows = self
            .pg
            .query(
                FORGET,
                &[(&names, Type::TEXT_ARRAY), (&now, Type::TIMESTAMPTZ)],
            )
            .await?;
        let mut told = std::collections::HashMap::new();
        for row in &rows {
            let name: String = row.try_get(0).map_err(describe)?;
            let host: Option<String> = row.try_get(1).map_err(describe)?;
            let runs: i64 = row.try_get(3).map_err(describe)?;
            let kept: bool = row.try_get(4).map_err(describe)?;
            let forgot = match host {
                Some(host) => Forgot::Running {
                    host,
                    started_at: row.try_get(2).map_err(describe)?,
                },
                None if runs > 0 || kept => Forgot::Done { runs: runs as u64 },
                None => Forgot::Unknown,
            };
            told.insert(name, forgot);
        }
        Ok(names
            .iter()
            .map(|n| (n.clone(), told.remove(n).unwrap_or(Forgot::Unknown)))
            .collect())
    }

    pub async fn prune(&mut self, keep: usize, names: &[String]) -> Result<u64, String> {
        let keep = keep.min(i64::MAX as usize) as i64;
        let rows = self
            .pg
            .query(PRUNE, &[(&keep, Type::INT8), (&names, Type::TEXT_ARRAY)])
            .await?;
        let dropped: i64 = rows
            .first()
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(describe)?
            .unwrap_or(0);
        Ok(dropped as u64)
    }
}

/// `host, started_at, finished_at, expect_by, record` from column `at` on.
fn stored_run(row: &Row, at: usize) -> Result<StoredRun, String> {
    Ok(StoredRun {
        host: row.try_get(at).map_err(describe)?,
        started_at: row.try_get(at + 1).map_err(describe)?,
        finished_at: row.try_get(at + 2).map_err(describe)?,
        expect_by: row.try_get(at + 3).map_err(describe)?,
        record: row.try_get(at + 4).map_err(describe)?,
    })
}

fn job_state(row: &Row) -> Result<JobState, String> {
    let get_err = |e| describe(e);
    let name: String = row.try_get(0).map_err(get_err)?;
    let schedule: Option<String> = row.try_get(1).map_err(get_err)?;
    let declared = match schedule {
        Some(schedule) => {
            let grace: Option<i64> = row.try_get(3).map_err(get_err)?;
            let declared_at: Option<SystemTime> = row.try_get(4).map_err(get_err)?;
            let updated_at: Option<SystemTime> = row.try_get(5).map_err(get_err)?;
            Some(Declared {
                schedule,
                tz: row
                    .try_get::<_, Option<String>>(2)
                    .map_err(get_err)?
                    .unwrap_or_else(|| "UTC".into()),
                grace: Duration::from_millis(grace.unwrap_or(0).max(0) as u64),
                declared_at: declared_at.unwrap_or(SystemTime::UNIX_EPOCH),
                updated_at: updated_at.or(declared_at).unwrap_or(SystemTime::UNIX_EPOCH),
                hosts: row.try_get(6).map_err(get_err)?,
            })
        }
        None => None,
    };
    let latest = match row.try_get::<_, Option<String>>(7).map_err(get_err)? {
        Some(_) => Some(stored_run(row, 7)?),
        None => None,
    };
    let last_finished = match row.try_get::<_, Option<String>>(12).map_err(get_err)? {
        Some(host) => Some(StoredRun {
            host,
            started_at: row.try_get(13).map_err(get_err)?,
            finished_at: row.try_get(14).map_err(get_err)?,
            expect_by: None,
            record: row.try_get(15).map_err(get_err)?,
        }),
        None => None,
    };
    let last_success = match row.try_get::<_, Option<SystemTime>>(16).map_err(get_err)? {
        Some(at) => Some((at, row.try_get(17).map_err(get_err)?)),
        None => None,
    };
    let failures: i64 = row.try_get(18).map_err(get_err)?;
    let mut hosts: Vec<String> = row.try_get(19).map_err(get_err)?;
    if let Some(d) = &declared {
        hosts.extend(d.hosts.iter().cloned());
    }
    hosts.sort();
    hosts.dedup();
    Ok(JobState {
        name,
        declared,
        latest,
        last_finished,
        last_success,
        consecutive_failures: failures.clamp(0, u32::MAX as i64) as u32,
        hosts,
    })
}
