//! The fleet lock on Redis. Each operation is one Lua script, so it is atomic on the server and costs
//! one round trip:
//!
//! - the tick claim `cronbeat:{NAME}:tick:TICK` is `SET NX PX` with the claimer's host id, kept at
//!   least one period, made only while holding the lease;
//! - the lease `cronbeat:{NAME}:lease` is `SET NX PX` with a random proof, the tick its run serves
//!   and the holder's host id, renewed (`PEXPIRE`) and released (`DEL`) only while it still holds that proof;
//! - the fencing token comes from `INCR cronbeat:{NAME}:fencing`, raised to the server's clock in
//!   microseconds when below it, so it keeps increasing even after the counter was lost (a restart
//!   without persistence, `FLUSHALL`).
//!
//! The braces make every key of one name a Redis Cluster hash tag, so the scripts stay on one node.
//! Expiry runs on the server's clock.

use std::time::{Duration, SystemTime};

use redis::aio::MultiplexedConnection;
use redis::{ConnectionAddr, ConnectionInfo, FromRedisValue, ProtocolVersion, RedisConnectionInfo};

use super::fleet::Acquired;
use super::target::{Engine, Tls};

const CLAIM: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return '' end
return redis.call('GET', KEYS[1]) or '?'
";

const CLAIMANT: &str = r"
return redis.call('GET', KEYS[1]) or ''
";

const ACQUIRE: &str = r"
if redis.replicate_commands then pcall(redis.replicate_commands) end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local token = redis.call('INCR', KEYS[2])
  local now = redis.call('TIME')
  local floor = tonumber(now[1]) * 1000000 + tonumber(now[2])
  if token < floor then
    redis.call('SET', KEYS[2], string.format('%.0f', floor))
    token = floor
  end
  return {1, string.format('%.0f', token)}
end
return {0, redis.call('GET', KEYS[1]) or ''}
";

const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

pub struct RedisLock {
    redis: RedisClient,
}

/// One connection to Redis that opens on first use and again after a failure: the fleet lock and the
/// fleet ledger each hold one.
pub struct RedisClient {
    /// The client, or why there can be none (an unreadable `SSL_CERT_FILE`), said at the first call.
    client: Result<redis::Client, String>,
    connection: Option<MultiplexedConnection>,
}

impl RedisLock {
    pub fn new(engine: &Engine) -> RedisLock {
        RedisLock {
            redis: RedisClient::new(engine),
        }
    }

    async fn eval<T: FromRedisValue>(
        &mut self,
        script: &str,
        keys: &[&str],
        args: &[&str],
    ) -> Result<T, String> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(keys.len()).arg(keys).arg(args);
        self.redis.query(&cmd).await
    }

    pub async fn close(&mut self) {
        self.redis.close().await
    }
}

impl RedisClient {
    pub fn new(engine: &Engine) -> RedisClient {
        let addr = match engine.tls {
            Tls::Disable => ConnectionAddr::Tcp(engine.host.clone(), engine.port),
            _ => {
                // rediss:// builds its rustls configuration with the process's crypto provider.
                let _ = rustls::crypto::ring::default_provider().install_default();
                ConnectionAddr::TcpTls {
                    host: engine.host.clone(),
                    port: engine.port,
                    insecure: false,
                    tls_params: None,
                }
            }
        };
        let info = ConnectionInfo {
            addr,
            redis: RedisConnectionInfo {
                db: engine.database.parse().unwrap_or(0),
                username: engine.user.clone(),
                password: engine.password(),
                protocol: ProtocolVersion::RESP2,
            },
        };
        RedisClient {
            client: client(info, engine.tls),
            connection: None,
        }
    }

    /// One command.
    pub async fn query<T: FromRedisValue>(&mut self, cmd: &redis::Cmd) -> Result<T, String> {
        let mut connection = self.connection().await?;
        let result = cmd.query_async(&mut connection).await;
        self.keep(connection, result)
    }

    /// Several commands in one round trip.
    pub async fn pipeline<T: FromRedisValue>(
        &mut self,
        pipe: &redis::Pipeline,
    ) -> Result<T, String> {
        let mut connection = self.connection().await?;
        let result = pipe.query_async(&mut connection).await;
        self.keep(connection, result)
    }

    /// Connects now, if not connected.
    pub async fn warm(&mut self) -> Result<(), String> {
        let connection = self.connection().await?;
        self.connection = Some(connection);
        Ok(())
    }

    async fn connection(&mut self) -> Result<MultiplexedConnection, String> {
        match self.connection.take() {
            Some(c) => Ok(c),
            None => {
                let client = self.client.as_ref().map_err(Clone::clone)?;
                client
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(describe)
            }
        }
    }

    /// A connection that failed is dropped: the next call connects again (the server may be back).
    fn keep<T>(
        &mut self,
        connection: MultiplexedConnection,
        result: redis::RedisResult<T>,
    ) -> Result<T, String> {
        match result {
            Ok(value) => {
                self.connection = Some(connection);
                Ok(value)
            }
            Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() => {
                Err(describe(e))
            }
            Err(e) => {
                self.connection = Some(connection);
                Err(describe(e))
            }
        }
    }

    pub async fn close(&mut self) {
        self.connection = None;
    }
}

impl RedisLock {
    pub async fn claim(
        &mut self,
        name: &str,
        tick: &str,
        holder: &str,
        keep: Duration,
    ) -> Result<Option<String>, String> {
        let key = format!("cronbeat:{{{name}}}:tick:{tick}");
        let ms = millis(keep);
        let taken: String = self.eval(CLAIM, &[&key], &[holder, &ms]).await?;
        Ok((!taken.is_empty()).then_some(taken))
    }

    pub async fn claimant(&mut self, name: &str, tick: &str) -> Result<Option<String>, String> {
        let key = format!("cronbeat:{{{name}}}:tick:{tick}");
        let holder: String = self.eval(CLAIMANT, &[&key], &[]).await?;
        Ok((!holder.is_empty()).then_some(holder))
    }

    pub async fn acquire(
        &mut self,
        name: &str,
        proof: &str,
        ttl: Duration,
    ) -> Result<Acquired, String> {
        let (lease, fencing) = (lease_key(name), format!("cronbeat:{{{name}}}:fencing"));
        let ms = millis(ttl);
        let (got, value): (i64, String) = self
            .eval(ACQUIRE, &[&lease, &fencing], &[proof, &ms])
            .await?;
        if got == 1 {
            let token = value
                .parse()
                .map_err(|_| format!("unexpected fencing token {value:?}"))?;
            return Ok(Acquired::Got(token));
        }
        let (tick, holder) = parse_lease_value(&value);
        Ok(Acquired::HeldBy { holder, tick })
    }

    pub async fn renew(&mut self, name: &str, proof: &str, ttl: Duration) -> Result<bool, String> {
        let n: i64 = self
            .eval(RENEW, &[&lease_key(name)], &[proof, &millis(ttl)])
            .await?;
        Ok(n == 1)
    }

    pub async fn release(&mut self, name: &str, proof: &str) -> Result<bool, String> {
        let n: i64 = self.eval(RELEASE, &[&lease_key(name)], &[proof]).await?;
        Ok(n == 1)
    }
}

/// rediss:// trusts the bundled roots, or, when `SSL_CERT_FILE` names a file, the certificates in it
/// (a private CA): the client takes one set or the other.
fn client(info: ConnectionInfo, tls: Tls) -> Result<redis::Client, String> {
    let ca_file = std::env::var_os("SSL_CERT_FILE").filter(|_| tls != Tls::Disable);
    let Some(path) = ca_file else {
        return redis::Client::open(info).map_err(describe);
    };
    let shown = std::path::Path::new(&path).display().to_string();
    let pem =
        std::fs::read(&path).map_err(|e| format!("SSL_CERT_FILE {shown}: cannot read it: {e}"))?;
    let certificates = redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(pem),
    };
    redis::Client::build_with_tls(info, certificates)
        .map_err(|e| format!("SSL_CERT_FILE {shown}: {}", describe(e)))
}

fn lease_key(name: &str) -> String {
    format!("cronbeat:{{{name}}}:lease")
}

fn millis(d: Duration) -> String {
    d.as_millis().max(1).to_string()
}

/// A lease's value: `PROOF TICK HOST`, the tick in RFC 3339 (UTC) or `-` for a run off the schedule.
pub fn lease_value(proof: &str, tick: Option<SystemTime>, holder: &str) -> String {
    let tick = tick.map_or_else(|| "-".to_string(), crate::schedule::rfc3339_utc);
    format!("{proof} {tick} {holder}")
}

/// The tick and host id in a lease's value; an older cronbeat's `PROOF HOST` has no tick.
fn parse_lease_value(value: &str) -> (Option<SystemTime>, String) {
    let Some((_, rest)) = value.split_once(' ') else {
        return (None, "another host".to_string());
    };
    if let Some((tick, holder)) = rest.split_once(' ') {
        if tick == "-" {
            return (None, holder.to_string());
        }
        if let Ok(tick) = humantime::parse_rfc3339(tick) {
            return (Some(tick), holder.to_string());
        }
    }
    (None, rest.to_string())
}

/// A Redis error in one line. The client never puts the password in one.
pub fn describe(e: redis::RedisError) -> String {
    if e.kind() == redis::ErrorKind::AuthenticationFailed {
        return "authentication failed: the server refused the user or password".into();
    }
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_value_carries_the_tick_and_the_holder() {
        let tick = humantime::parse_rfc3339("2026-01-05T03:01:00Z").unwrap();
        let value = lease_value("p", Some(tick), "host a");
        assert_eq!(value, "p 2026-01-05T03:01:00Z host a");
        assert_eq!(
            parse_lease_value(&value),
            (Some(tick), "host a".to_string())
        );
        let value = lease_value("p", None, "h");
        assert_eq!(parse_lease_value(&value), (None, "h".to_string()));
        // An older cronbeat's value.
        assert_eq!(parse_lease_value("p host b"), (None, "host b".to_string()));
        assert_eq!(parse_lease_value("p h"), (None, "h".to_string()));
    }
}
