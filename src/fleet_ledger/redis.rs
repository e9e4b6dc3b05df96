//! The fleet ledger on Redis. A job's keys share its `{NAME}` hash tag (as its fleet lock's do), so each
//! write is one script on one node, one round trip:
//!
//! - `cronbeat:{NAME}:ledger:runs`: a stream of the finished runs, capped at `--keep-runs` entries
//!   (`XADD MAXLEN`); each entry's `run` is the run as JSON, `tail` the output tail of a failed one;
//! - `cronbeat:{NAME}:ledger:live` / `:expect`: the runs that started and have not finished, and by when
//!   each promised to finish or renew; a run stuck past that before a later one started is moved to the
//!   stream, unfinished, when the later one ends;
//! - `cronbeat:{NAME}:ledger:state`: the latest run, the latest finished run, the latest success and the
//!   failures since, kept by the scripts as runs end, so a reader reads a few fields per job;
//! - `cronbeat:{NAME}:ledger:hosts`: each host that ran the job, with when it last did;
//! - `cronbeat:{NAME}:ledger:job`: the declared schedule;
//! - `cronbeat:ledger:jobs`: the set of every job's name.
//!
//! A reader's keys of one job are read in one MULTI/EXEC, so that they agree with each other (a run's
//! end, one script, is wholly before or wholly after them); `last-output` pages through the stream
//! newest first, each page one read, which a run ending meanwhile does not change.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use redis::Value;
use serde::{Deserialize, Serialize};

use super::store::{
    epoch_ms, from_epoch_ms, Declaration, Declared, End, Forgot, JobState, Start, StoredRun,
};
use crate::lock::redis::RedisClient;
use crate::lock::Engine;

const JOBS: &str = "cronbeat:ledger:jobs";

fn key(name: &str, what: &str) -> String {
    format!("cronbeat:{{{name}}}:ledger:{what}")
}

/// KEYS: job. ARGV: schedule, tz, grace_ms, now_ms, host.
const DECLARE: &str = r"
local old = redis.call('HMGET', KEYS[1], 'schedule', 'tz', 'declared_at', 'hosts')
local declared = old[3]
if not declared or old[1] ~= ARGV[1] or old[2] ~= ARGV[2] then declared = ARGV[4] end
local hosts = old[4] or ''
local found = false
for h in string.gmatch(hosts, '[^\n]+') do if h == ARGV[5] then found = true end end
if not found then
  if hosts == '' then hosts = ARGV[5] else hosts = hosts .. '\n' .. ARGV[5] end
end
redis.call('HSET', KEYS[1], 'schedule', ARGV[1], 'tz', ARGV[2], 'grace_ms', ARGV[3],
  'declared_at', declared, 'updated_at', ARGV[4], 'hosts', hosts)
return 1
";

/// KEYS: live, expect, state, hosts. ARGV: run_id, host, started_ms, expect_ms, run.
const START: &str = r"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
local seen = tonumber(redis.call('HGET', KEYS[4], ARGV[2]) or '0')
if tonumber(ARGV[3]) > seen then redis.call('HSET', KEYS[4], ARGV[2], ARGV[3]) end
local latest = tonumber(redis.call('HGET', KEYS[3], 'latest_started') or '-1')
if tonumber(ARGV[3]) >= latest then
  redis.call('HSET', KEYS[3], 'latest_started', ARGV[3], 'latest', ARGV[5], 'latest_id', ARGV[1])
end
return 1
";

/// KEYS: expect. ARGV: run_id, expect_ms.
const RENEW: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
";

/// KEYS: live, expect, state, hosts, runs. ARGV: run_id, host, started_ms, finished_ms, run, success,
/// failure, keep, has_tail, tail.
const END: &str = r"
if redis.replicate_commands then pcall(redis.replicate_commands) end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local started = tonumber(ARGV[3])
local expects = redis.call('HGETALL', KEYS[2])
for i = 1, #expects, 2 do
  if tonumber(expects[i + 1]) < started then
    local run = redis.call('HGET', KEYS[1], expects[i])
    if run then redis.call('XADD', KEYS[5], 'MAXLEN', ARGV[8], '*', 'run', run) end
    redis.call('HDEL', KEYS[1], expects[i])
    redis.call('HDEL', KEYS[2], expects[i])
  end
end
if ARGV[9] == '1' then
  redis.call('XADD', KEYS[5], 'MAXLEN', ARGV[8], '*', 'run', ARGV[5], 'tail', ARGV[10])
else
  redis.call('XADD', KEYS[5], 'MAXLEN', ARGV[8], '*', 'run', ARGV[5])
end
local seen = tonumber(redis.call('HGET', KEYS[4], ARGV[2]) or '0')
if tonumber(ARGV[4]) > seen then redis.call('HSET', KEYS[4], ARGV[2], ARGV[4]) end
local latest = tonumber(redis.call('HGET', KEYS[3], 'latest_started') or '-1')
if started >= latest or redis.call('HGET', KEYS[3], 'latest_id') == ARGV[1] then
  redis.call('HSET', KEYS[3], 'latest_started', ARGV[3], 'latest', ARGV[5], 'latest_id', ARGV[1])
end
local finished = tonumber(redis.call('HGET', KEYS[3], 'finished_at') or '-1')
if tonumber(ARGV[4]) >= finished then
  redis.call('HSET', KEYS[3], 'finished_at', ARGV[4], 'finished', ARGV[5])
end
if ARGV[6] == '1' then
  redis.call('HSET', KEYS[3], 'success_at', ARGV[4], 'success_host', ARGV[2], 'fails', 0)
elseif ARGV[7] == '1' then
  redis.call('HINCRBY', KEYS[3], 'fails', 1)
end
return 1
";

/// KEYS: job, state, expect, hosts, live, runs. ARGV: now_ms. The runs under way (promised past now)
/// as `{0, 0, runs}`, the job left whole; else its keys deleted, `{1, runs, {}}`, or `{2, 0, {}}` when
/// it had none.
const FORGET: &str = r"
local expects = redis.call('HGETALL', KEYS[3])
local busy = {}
for i = 1, #expects, 2 do
  if tonumber(expects[i + 1]) >= tonumber(ARGV[1]) then
    local run = redis.call('HGET', KEYS[5], expects[i])
    if run then busy[#busy + 1] = run end
  end
end
if #busy > 0 then return {0, 0, busy} end
local runs = redis.call('XLEN', KEYS[6]) + redis.call('HLEN', KEYS[5])
local known = redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
if known == 0 then return {2, 0, {}} end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
return {1, runs, {}}
";

/// A run as the Redis side keeps it.
#[derive(Serialize, Deserialize)]
struct Run {
    host: String,
    started: i64,
    finished: Option<i64>,
    record: String,
}

impl Run {
    fn stored(self, expect_by: Option<i64>) -> StoredRun {
        StoredRun {
            host: self.host,
            started_at: from_epoch_ms(self.started),
            finished_at: self.finished.map(from_epoch_ms),
            expect_by: if self.finished.is_none() {
                expect_by.map(from_epoch_ms)
            } else {
                None
            },
            record: self.record,
        }
    }
}

fn run_json(host: &str, started: SystemTime, finished: Option<SystemTime>, record: &str) -> String {
    serde_json::to_string(&Run {
        host: host.to_string(),
        started: epoch_ms(started),
        finished: finished.map(epoch_ms),
        record: record.to_string(),
    })
    .expect("a run always serializes")
}

fn parse_run(text: &str) -> Option<Run> {
    serde_json::from_str(text).ok()
}

pub struct RedisLedger {
    redis: RedisClient,
}

fn eval(script: &str, keys: &[&str]) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script).arg(keys.len()).arg(keys);
    cmd
}

/// `reads` as one MULTI/EXEC in `pipe`: read at one moment, between two scripts, never across one.
/// The pipeline's reply for them is EXEC's, an array of theirs. The keys are one job's, in one slot.
fn atomically(pipe: &mut redis::Pipeline, reads: impl IntoIterator<Item = redis::Cmd>) {
    pipe.add_command(redis::cmd("MULTI")).ignore();
    for read in reads {
        pipe.add_command(read).ignore();
    }
    pipe.add_command(redis::cmd("EXEC"));
}

/// A hash as field → value, from HGETALL's reply.
fn hash(value: &Value) -> HashMap<String, Vec<u8>> {
    let mut map = HashMap::new();
    let items: Vec<Vec<u8>> = match value {
        Value::Array(items) => items
            .iter()
            .filter_map(|v| redis::from_redis_value(v).ok())
            .collect(),
        Value::Map(pairs) => {
            for (k, v) in pairs {
                if let (Ok(k), Ok(v)) = (redis::from_redis_value(k), redis::from_redis_value(v)) {
                    map.insert(k, v);
                }
            }
            return map;
        }
        _ => Vec::new(),
    };
    for pair in items.chunks(2) {
        if let [k, v] = pair {
            map.insert(String::from_utf8_lossy(k).into_owned(), v.clone());
        }
    }
    map
}

fn text(map: &HashMap<String, Vec<u8>>, field: &str) -> Option<String> {
    map.get(field)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn number(map: &HashMap<String, Vec<u8>>, field: &str) -> Option<i64> {
    text(map, field)?.parse().ok()
}

/// A stream's entries: id, then field → value.
fn entries(value: &Value) -> Vec<(String, HashMap<String, Vec<u8>>)> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Array(pair) if pair.len() == 2 => {
                let id: String = redis::from_redis_value(&pair[0]).ok()?;
                Some((id, hash(&pair[1])))
            }
            _ => None,
        })
        .collect()
}

impl RedisLedger {
    pub fn new(engine: &Engine) -> RedisLedger {
        RedisLedger {
            redis: RedisClient::new(engine),
        }
    }

    pub async fn warm(&mut self) -> Result<(), String> {
        self.redis.warm().await
    }

    pub async fn close(&mut self) {
        self.redis.close().await
    }

    pub async fn declare(&mut self, d: &Declaration, now: SystemTime) -> Result<(), String> {
        let job = key(&d.name, "job");
        let mut pipe = redis::pipe();
        pipe.add_command(redis::cmd("SADD").arg(JOBS).arg(&d.name).to_owned())
            .ignore();
        let mut cmd = eval(DECLARE, &[&job]);
        cmd.arg(&d.schedule)
            .arg(&d.tz)
            .arg(d.grace.as_millis() as u64)
            .arg(epoch_ms(now))
            .arg(&d.host);
        pipe.add_command(cmd).ignore();
        self.redis.pipeline::<()>(&pipe).await
    }

    pub async fn latest_success(
        &mut self,
        name: &str,
    ) -> Result<Option<(SystemTime, String)>, String> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(key(name, "state"))
            .arg("success_at")
            .arg("success_host");
        let (at, host): (Option<i64>, Option<String>) = self.redis.query(&cmd).await?;
        Ok(at.map(|at| (from_epoch_ms(at), host.unwrap_or_default())))
    }

    pub async fn start(&mut self, s: &Start<'_>) -> Result<(), String> {
        let keys = ["live", "expect", "state", "hosts"].map(|w| key(s.name, w));
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut pipe = redis::pipe();
        pipe.add_command(redis::cmd("SADD").arg(JOBS).arg(s.name).to_owned())
            .ignore();
        let mut cmd = eval(START, &keys);
        cmd.arg(s.run_id)
            .arg(s.host)
            .arg(epoch_ms(s.started_at))
            .arg(epoch_ms(s.expect_by))
            .arg(run_json(s.host, s.started_at, None, s.record));
        pipe.add_command(cmd).ignore();
        self.redis.pipeline::<()>(&pipe).await
    }

    pub async fn renew(
        &mut self,
        name: &str,
        run_id: &str,
        expect_by: SystemTime,
    ) -> Result<(), String> {
        let expect = key(name, "expect");
        let mut cmd = eval(RENEW, &[&expect]);
        cmd.arg(run_id).arg(epoch_ms(expect_by));
        self.redis.query::<()>(&cmd).await
    }

    pub async fn end(&mut self, e: &End<'_>) -> Result<(), String> {
        let keys = ["live", "expect", "state", "hosts", "runs"].map(|w| key(e.name, w));
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut pipe = redis::pipe();
        pipe.add_command(redis::cmd("SADD").arg(JOBS).arg(e.name).to_owned())
            .ignore();
        let mut cmd = eval(END, &keys);
        cmd.arg(e.run_id)
            .arg(e.host)
            .arg(epoch_ms(e.started_at))
            .arg(epoch_ms(e.finished_at))
            .arg(run_json(
                e.host,
                e.started_at,
                Some(e.finished_at),
                e.record,
            ))
            .arg(u8::from(e.success))
            .arg(u8::from(e.failure))
            .arg(e.keep_runs.max(1))
            .arg(u8::from(e.tail.is_some()))
            .arg(e.tail.unwrap_or_default());
        pipe.add_command(cmd).ignore();
        self.redis.pipeline::<()>(&pipe).await
    }

    pub async fn jobs(&mut self, names: &[String]) -> Result<Vec<JobState>, String> {
        let mut names: Vec<String> = if names.is_empty() {
            self.redis.query(redis::cmd("SMEMBERS").arg(JOBS)).await?
        } else {
            names.to_vec()
        };
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        // Each job's hashes in one MULTI/EXEC: a run that ends between two separate reads would show
        // in the state as the latest run, unfinished, and be gone from the promises: `stuck`.
        let mut pipe = redis::pipe();
        for name in &names {
            atomically(
                &mut pipe,
                ["job", "state", "expect", "hosts"]
                    .map(|what| redis::cmd("HGETALL").arg(key(name, what)).to_owned()),
            );
        }
        let replies: Vec<Vec<Value>> = self.redis.pipeline(&pipe).await?;
        let mut jobs = Vec::new();
        for (name, four) in names.into_iter().zip(replies) {
            let [job, state, expect, hosts] = four.as_slice() else {
                continue;
            };
            let (job, state, expect, hosts) = (hash(job), hash(state), hash(expect), hash(hosts));
            if job.is_empty() && state.is_empty() && expect.is_empty() && hosts.is_empty() {
                continue;
            }
            let declared = text(&job, "schedule").map(|schedule| {
                let declared_at = from_epoch_ms(number(&job, "declared_at").unwrap_or(0));
                Declared {
                    schedule,
                    tz: text(&job, "tz").unwrap_or_else(|| "UTC".into()),
                    grace: Duration::from_millis(
                        number(&job, "grace_ms").unwrap_or(0).max(0) as u64
                    ),
                    declared_at,
                    updated_at: number(&job, "updated_at").map_or(declared_at, from_epoch_ms),
                    hosts: text(&job, "hosts")
                        .unwrap_or_default()
                        .lines()
                        .map(str::to_string)
                        .collect(),
                }
            });
            let latest_id = text(&state, "latest_id");
            let latest = text(&state, "latest")
                .and_then(|t| parse_run(&t))
                .map(|run| {
                    let expect_by = latest_id.as_deref().and_then(|id| number(&expect, id));
                    run.stored(expect_by)
                });
            let last_finished = text(&state, "finished")
                .and_then(|t| parse_run(&t))
                .map(|run| run.stored(None));
            let last_success = number(&state, "success_at").map(|at| {
                (
                    from_epoch_ms(at),
                    text(&state, "success_host").unwrap_or_default(),
                )
            });
            let mut all: Vec<String> = hosts.keys().cloned().collect();
            if let Some(d) = &declared {
                all.extend(d.hosts.iter().cloned());
            }
            all.sort();
            all.dedup();
            jobs.push(JobState {
                name,
                declared,
                latest,
                last_finished,
                last_success,
                consecutive_failures: number(&state, "fails")
                    .unwrap_or(0)
                    .clamp(0, u32::MAX as i64) as u32,
                hosts: all,
            });
        }
        Ok(jobs)
    }

    pub async fn history(&mut self, name: &str, count: usize) -> Result<Vec<StoredRun>, String> {
        // One MULTI/EXEC: a run that ends between separate reads would be in neither the stream nor
        // the runs under way, or under way with no promise (`stuck`).
        let mut pipe = redis::pipe();
        atomically(
            &mut pipe,
            [
                redis::cmd("XREVRANGE")
                    .arg(key(name, "runs"))
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(count.max(1))
                    .to_owned(),
                redis::cmd("HGETALL").arg(key(name, "live")).to_owned(),
                redis::cmd("HGETALL").arg(key(name, "expect")).to_owned(),
            ],
        );
        let ((stream, live, expect),): ((Value, Value, Value),) =
            self.redis.pipeline(&pipe).await?;
        let expect = hash(&expect);
        let mut runs: Vec<StoredRun> = entries(&stream)
            .into_iter()
            .filter_map(|(_, fields)| parse_run(&text(&fields, "run")?).map(|r| r.stored(None)))
            .collect();
        for (id, run) in hash(&live) {
            if let Some(run) = parse_run(&String::from_utf8_lossy(&run)) {
                runs.push(run.stored(number(&expect, &id)));
            }
        }
        runs.sort_by_key(|r| std::cmp::Reverse(r.started_at));
        runs.truncate(count);
        Ok(runs)
    }

    pub async fn last_output(
        &mut self,
        name: &str,
    ) -> Result<Option<(StoredRun, Vec<u8>)>, String> {
        let runs = key(name, "runs");
        let mut from = "+".to_string();
        loop {
            let mut cmd = redis::cmd("XREVRANGE");
            cmd.arg(&runs).arg(&from).arg("-").arg("COUNT").arg(64);
            let page: Value = self.redis.query(&cmd).await?;
            let page = entries(&page);
            let Some((last_id, _)) = page.last() else {
                return Ok(None);
            };
            let next = format!("({last_id}");
            for (_, fields) in &page {
                if let (Some(tail), Some(run)) = (
                    fields.get("tail"),
                    text(fields, "run").and_then(|t| parse_run(&t)),
                ) {
                    return Ok(Some((run.stored(None), tail.clone())));
                }
            }
            if page.len() < 64 {
                return Ok(None);
            }
            from = next;
        }
    }

    pub async fn forget(
        &mut self,
        names: &[String],
        now: SystemTime,
    ) -> Result<Vec<(String, Forgot)>, String> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        // Out of the set first: a run starting meanwhile adds its job back before its script runs, and
        // then this one finds the run under way and puts the name back too.
        let mut pipe = redis::pipe();
        pipe.add_command(redis::cmd("SREM").arg(JOBS).arg(names).to_owned())
            .ignore();
        for name in names {
            let keys = ["job", "state", "expect", "hosts", "live", "runs"].map(|w| key(name, w));
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let mut cmd = eval(FORGET, &keys);
            cmd.arg(epoch_ms(now));
            pipe.add_command(cmd);
        }
        let replies: Vec<(i64, u64, Vec<String>)> = self.redis.pipeline(&pipe).await?;
        let mut told = Vec::new();
        let mut busy = Vec::new();
        for (name, (what, runs, under_way)) in names.iter().zip(replies) {
            let forgot = match what {
                1 => Forgot::Done { runs },
                2 => Forgot::Unknown,
                _ => {
                    busy.push(name.clone());
                    let latest = under_way
                        .iter()
                        .filter_map(|r| parse_run(r))
                        .max_by_key(|r| r.started);
                    Forgot::Running {
                        host: latest.as_ref().map_or_else(String::new, |r| r.host.clone()),
                        started_at: from_epoch_ms(latest.map_or(0, |r| r.started)),
                    }
                }
            };
            told.push((name.clone(), forgot));
        }
        if !busy.is_empty() {
            self.redis
                .query::<()>(redis::cmd("SADD").arg(JOBS).arg(&busy))
                .await?;
        }
        Ok(told)
    }

    pub async fn prune(&mut self, keep: usize, names: &[String]) -> Result<u64, String> {
        let names: Vec<String> = if names.is_empty() {
            self.redis.query(redis::cmd("SMEMBERS").arg(JOBS)).await?
        } else {
            names.to_vec()
        };
        if names.is_empty() {
            return Ok(0);
        }
        let mut pipe = redis::pipe();
        for name in &names {
            pipe.add_command(
                redis::cmd("XTRIM")
                    .arg(key(name, "runs"))
                    .arg("MAXLEN")
                    .arg(keep)
                    .to_owned(),
            );
        }
        let dropped: Vec<u64> = self.redis.pipeline(&pipe).await?;
        Ok(dropped.iter().sum())
    }
}
