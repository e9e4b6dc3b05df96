//! What `--lock` names: a file for flock(2), or a lock engine shared by a fleet of hosts
//! (`redis://`, `rediss://`, `postgres://`, `postgresql://`). A URL's password is a secret: only
//! `Display` (scheme, host and port) ever reaches a message, and `Debug` hides it too.

use std::fmt;
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;
use reqwest::Url;

/// Where the lock lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A lock file on this host (flock).
    File(PathBuf),
    /// A lock engine every host of the fleet reaches.
    Fleet(Engine),
}

/// A lock engine and how to reach it.
#[derive(Clone, PartialEq, Eq)]
pub struct Engine {
    pub kind: EngineKind,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    /// From the URL, else the client's usual variable (`REDISCLI_AUTH`, `PGPASSWORD`), read at run time.
    pub password: Option<String>,
    pub tls: Tls,
    /// Redis: the database number. PostgreSQL: the database name.
    pub database: String,
    /// PostgreSQL `sslrootcert`: the CA certificates to trust instead of the bundled roots.
    pub root_cert: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Redis,
    Postgres,
}

/// TLS to the engine, with libpq's `sslmode` meanings (Redis: `rediss://` is `VerifyFull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    Disable,
    /// TLS if the server offers it, without checking its certificate (libpq's default).
    Prefer,
    /// TLS, without checking the certificate.
    Require,
    /// TLS, and the certificate must chain to a trusted root and name the host (`verify-ca` too).
    VerifyFull,
}

impl fmt::Display for Engine {
    /// `redis://HOST:PORT`: what messages say about the engine, never the password or the user.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (self.kind, self.tls) {
            (EngineKind::Redis, Tls::Disable) => "redis",
            (EngineKind::Redis, _) => "rediss",
            (EngineKind::Postgres, _) => "postgres",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("at", &self.to_string())
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("tls", &self.tls)
            .field("database", &self.database)
            .finish()
    }
}

impl Target {
    /// `--lock`'s value: a URL of a known engine, else a path. Errors never show the URL's secrets.
    pub fn parse(value: &Path) -> Result<Target, String> {
        let Some(text) = value.to_str() else {
            return Ok(Target::File(value.to_path_buf()));
        };
        let Some((scheme, _)) = text.split_once("://") else {
            return Ok(Target::File(value.to_path_buf()));
        };
        let known = ["redis", "rediss", "postgres", "postgresql"];
        if !known.contains(&scheme.to_ascii_lowercase().as_str()) {
            if scheme.is_empty()
                || !scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            {
                return Ok(Target::File(value.to_path_buf()));
            }
            return Err(format!(
                "unknown lock engine {scheme:?}: give a file path, redis://, rediss://, postgres:// or postgresql://"
            ));
        }
        Engine::parse(text).map(Target::Fleet)
    }

    /// The lock as messages name it: the path, or the engine without its secrets.
    pub fn shown(&self) -> String {
        match self {
            Target::File(path) => path.display().to_string(),
            Target::Fleet(engine) => engine.to_string(),
        }
    }
}

impl Engine {
    fn parse(text: &str) -> Result<Engine, String> {
        // Every error names the engine as far as it can be told without the secrets.
        let shown = text
            .split_once("://")
            .map_or("", |(s, _)| s)
            .to_ascii_lowercase();
        let bad = |what: String| format!("{shown}:// lock URL: {what}");
        let url = Url::parse(text).map_err(|e| bad(format!("cannot parse it: {e}")))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host (expected e.g. redis://HOST:6379)".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let user = Some(decode(url.username())).filter(|u| !u.is_empty());
        let password = url.password().map(decode);
        if url.fragment().is_some() {
            return Err(bad("a #fragment is not supported".into()));
        }
        let path = url.path().trim_start_matches('/');
        let mut engine = match shown.as_str() {
            "redis" | "rediss" => {
                let database = match path {
                    "" => "0".to_string(),
                    db if db.parse::<u32>().is_ok() => db.to_string(),
                    _ => {
                        return Err(bad(
                            "the path must be a database number, as in redis://HOST:6379/0".into(),
                        ))
                    }
                };
                if let Some((key, _)) = url.query_pairs().next() {
                    return Err(bad(format!(
                        "unknown parameter {key:?} (a redis:// lock URL takes none)"
                    )));
                }
                Engine {
                    kind: EngineKind::Redis,
                    port: url.port().unwrap_or(6379),
                    tls: if shown == "rediss" {
                        Tls::VerifyFull
                    } else {
                        Tls::Disable
                    },
                    host,
                    user,
                    password,
                    database,
                    root_cert: None,
                }
            }
            _ => {
                let user = user.ok_or_else(|| {
                    bad("no user (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)".into())
                })?;
                if path.is_empty() || path.contains('/') {
                    return Err(bad(
                        "expected one database name, as in postgres://USER@HOST:5432/DATABASE"
                            .into(),
                    ));
                }
                let mut tls = Tls::Prefer;
                let mut root_cert = None;
                for (key, value) in url.query_pairs() {
                    match key.as_ref() {
                        "sslmode" => {
                            tls = match value.as_ref() {
                                "disable" => Tls::Disable,
                                "allow" | "prefer" => Tls::Prefer,
                                "require" => Tls::Require,
                                "verify-ca" | "verify-full" => Tls::VerifyFull,
                                other => {
                                    return Err(bad(format!(
                                        "sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                                    )))
                                }
                            }
                        }
                        "sslrootcert" => root_cert = Some(PathBuf::from(value.as_ref())),
                        other => {
                            return Err(bad(format!(
                                "unknown parameter {other:?} (a postgres:// lock URL takes sslmode and sslrootcert)"
                            )))
                        }
                    }
                }
                Engine {
                    kind: EngineKind::Postgres,
                    port: url.port().unwrap_or(5432),
                    host,
                    user: Some(user),
                    password,
                    tls,
                    database: decode(path),
                    root_cert,
                }
            }
        };
        if engine.host.is_empty() {
            engine.host = "localhost".into();
        }
        Ok(engine)
    }

    /// The password: the URL's, else the variable the engine's own client reads.
    pub fn password(&self) -> Option<String> {
        let variable = match self.kind {
            EngineKind::Redis => "REDISCLI_AUTH",
            EngineKind::Postgres => "PGPASSWORD",
        };
        self.password
            .clone()
            .or_else(|| std::env::var(variable).ok().filter(|p| !p.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(text: &str) -> Engine {
        match Target::parse(Path::new(text)) {
            Ok(Target::Fleet(engine)) => engine,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn paths_stay_files() {
        for path in ["/run/lock/x.lock", "x.lock", "./a:b", "/tmp/http://x"] {
            assert_eq!(
                Target::parse(Path::new(path)),
                Ok(Target::File(PathBuf::from(path)))
            );
        }
    }

    #[test]
    fn redis_urls() {
        let e = fleet("redis://:s%40cret@cache.internal:6380/2");
        assert_eq!(e.kind, EngineKind::Redis);
        assert_eq!((e.host.as_str(), e.port), ("cache.internal", 6380));
        assert_eq!(e.password.as_deref(), Some("s@cret"));
        assert_eq!(e.database, "2");
        assert_eq!(e.tls, Tls::Disable);
        assert_eq!(e.to_string(), "redis://cache.internal:6380");
        let e = fleet("rediss://user:pw@[::1]");
        assert_eq!((e.host.as_str(), e.port), ("::1", 6379));
        assert_eq!(e.user.as_deref(), Some("user"));
        assert_eq!(e.tls, Tls::VerifyFull);
        assert_eq!(e.to_string(), "rediss://[::1]:6379");
    }

    #[test]
    fn postgres_urls() {
        let e =
            fleet("postgresql://app:pw@db:6543/jobs?sslmode=verify-full&sslrootcert=/etc/ca.pem");
        assert_eq!(e.kind, EngineKind::Postgres);
        assert_eq!((e.host.as_str(), e.port), ("db", 6543));
        assert_eq!(e.user.as_deref(), Some("app"));
        assert_eq!(e.database, "jobs");
        assert_eq!(e.tls, Tls::VerifyFull);
        assert_eq!(e.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(e.to_string(), "postgres://db:6543");
        assert_eq!(fleet("postgres://u@h/d").tls, Tls::Prefer);
        assert_eq!(fleet("postgres://u@h/d?sslmode=disable").tls, Tls::Disable);
    }

    #[test]
    fn errors_never_show_the_password() {
        for bad in [
            "redis://:hunter2@host/notanumber",
            "redis://:hunter2@host/0?x=1",
            "postgres://:hunter2@host/db",
            "postgres://u:hunter2@host/",
            "postgres://u:hunter2@host/db?sslmode=sometimes",
            "postgres://u:hunter2@host/db?password=hunter2",
            "redis://:hunter2@",
            "etcd://:hunter2@host",
        ] {
            let e = Target::parse(Path::new(bad)).unwrap_err();
            assert!(!e.contains("hunter2"), "{bad}: {e}");
        }
        let debug = format!("{:?}", fleet("redis://:hunter2@h"));
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
