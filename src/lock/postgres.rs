//! The fleet lock on PostgreSQL: two small tables, created on first use, and one statement per
//! operation, each its own transaction. No session state (no advisory lock, no named prepared
//! statement: every statement goes as an unnamed one with its parameter types), so it works through
//! PgBouncer in transaction mode, and a crashed client leaves nothing behind but a lease that expires.
//!
//! - `cronbeat_leases(name, holder, proof, token, acquired_at, expires_at, tick)`: one row per name, taken
//!   over only once expired, its token (the fencing token) raised on every acquisition;
//! - `cronbeat_ticks(name, tick, holder, claimed_at, expires_at)`: one row per claimed tick.
//!
//! Every time is the server's (`now()`), never the host's.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, NoTls, Row};

use super::fleet::Acquired;
use super::target::{Engine, Tls};

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS cronbeat_leases (
    name text PRIMARY KEY,
    holder text NOT NULL,
    proof text NOT NULL,
    token bigint NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS cronbeat_ticks (
    name text NOT NULL,
    tick timestamptz NOT NULL,
    holder text NOT NULL,
    claimed_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (name, tick)
);
ALTER TABLE cronbeat_leases ADD COLUMN IF NOT EXISTS tick timestamptz;";

/// Claims a tick unless a live claim exists; expired claims of the name are cleared on the way.
const CLAIM: &str = "
WITH expired AS (
    DELETE FROM cronbeat_ticks WHERE name = $1 AND tick <> $2 AND expires_at <= now()
)
INSERT INTO cronbeat_ticks AS t (name, tick, holder, claimed_at, expires_at)
VALUES ($1, $2, $3, now(), now() + make_interval(secs => $4::float8 / 1000))
ON CONFLICT (name, tick) DO UPDATE
    SET holder = EXCLUDED.holder, claimed_at = EXCLUDED.claimed_at, expires_at = EXCLUDED.expires_at
    WHERE t.expires_at <= now()
RETURNING holder";

const CLAIMED_BY: &str =
    "SELECT holder FROM cronbeat_ticks WHERE name = $1 AND tick = $2 AND expires_at > now()";

/// The token starts at the server's clock in microseconds and then only grows, by one at least.
const ACQUIRE: &str = "
INSERT INTO cronbeat_leases AS l (name, holder, proof, token, acquired_at, expires_at, tick)
VALUES ($1, $2, $3, floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint, now(),
        now() + make_interval(secs => $4::float8 / 1000), $5)
ON CONFLICT (name) DO UPDATE
    SET holder = EXCLUDED.holder, proof = EXCLUDED.proof, token = greatest(l.token + 1, EXCLUDED.token),
        acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at, tick = EXCLUDED.tick
    WHERE l.expires_at <= now()
RETURNING token";

const HELD_BY: &str = "SELECT holder, tick FROM cronbeat_leases WHERE name = $1";

const RENEW: &str = "
UPDATE cronbeat_leases SET expires_at = now() + make_interval(secs => $3::float8 / 1000)
WHERE name = $1 AND token = $2 AND expires_at > now()
RETURNING token";

/// The row stays, expired, so the next token still counts up from it.
const RELEASE: &str = "
UPDATE cronbeat_leases SET expires_at = now() WHERE name = $1 AND token = $2 AND expires_at > now()
RETURNING token";

pub struct PgLock {
    pg: PgClient,
}

/// One connection to PostgreSQL that opens on first use and again after a failure, running each
/// statement as an unnamed one (PgBouncer's transaction mode keeps nothing between transactions), and
/// creating its tables (`create`) when a statement finds them missing. The fleet lock and the fleet
/// ledger each hold one.
pub struct PgClient {
    config: Config,
    tls: Tls,
    root_cert: Option<std::path::PathBuf>,
    client: Option<Client>,
    /// The connection's task: it says goodbye to the server once the client is dropped.
    connection: Option<tokio::task::JoinHandle<()>>,
    /// The tables' definitions, idempotent, and what they are called in messages.
    create: &'static str,
    tables: &'static str,
}

/// How long a closing connection gets to tell the server (a pooler such as PgBouncer otherwise logs
/// every run's end as an unexpected EOF).
const CLOSE_WITHIN: Duration = Duration::from_millis(200);

impl PgLock {
    pub fn new(engine: &Engine) -> PgLock {
        PgLock {
            pg: PgClient::new(engine, CREATE, "lock"),
        }
    }

    pub async fn close(&mut self) {
        self.pg.close().await
    }

    async fn query(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, String> {
        self.pg.query(sql, params).await
    }
}

impl PgClient {
    pub fn new(engine: &Engine, create: &'static str, tables: &'static str) -> PgClient {
        let mut config = Config::new();
        config
            .host(&engine.host)
            .port(engine.port)
            .dbname(&engine.database)
            .application_name("cronbeat");
        if let Some(user) = &engine.user {
            config.user(user);
        }
        if let Some(password) = engine.password() {
            config.password(password);
        }
        PgClient {
            config,
            tls: engine.tls,
            root_cert: engine.root_cert.clone(),
            client: None,
            connection: None,
            create,
            tables,
        }
    }

    pub async fn close(&mut self) {
        self.client = None;
        if let Some(task) = self.connection.take() {
            let _ = tokio::time::timeout(CLOSE_WITHIN, task).await;
        }
    }

    async fn connect(&mut self) -> Result<Client, String> {
        let mut config = self.config.clone();
        let client = match self.tls {
            Tls::Disable => {
                let (client, connection) = config.connect(NoTls).await.map_err(describe)?;
                self.connection = Some(tokio::spawn(async move {
                    let _ = connection.await;
                }));
                client
            }
            mode => {
                config.ssl_mode(match mode {
                    Tls::Prefer => tokio_postgres::config::SslMode::Prefer,
                    _ => tokio_postgres::config::SslMode::Require,
                });
                let tls = MakeTls {
                    mode,
                    root_cert: self.root_cert.clone(),
                };
                let (client, connection) = config.connect(tls).await.map_err(describe)?;
                self.connection = Some(tokio::spawn(async move {
                    let _ = connection.await;
                }));
                client
            }
        };
        Ok(client)
    }

    /// Connects now, if not connected: a later statement then costs one round trip.
    pub async fn warm(&mut self) -> Result<(), String> {
        if self.client.as_ref().is_some_and(|c| !c.is_closed()) {
            return Ok(());
        }
        self.client = Some(self.connect().await?);
        Ok(())
    }

    /// One statement; on a missing table the tables are created and it is tried once more.
    pub async fn query(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, String> {
        for attempt in 0..2 {
            let client = match self.client.take() {
                Some(client) if !client.is_closed() => client,
                _ => self.connect().await?,
            };
            match client.query_typed(sql, params).await {
                Ok(rows) => {
                    self.client = Some(client);
                    return Ok(rows);
                }
                // No tables yet, or a lease table from before it kept the tick.
                Err(e)
                    if attempt == 0
                        && (e.code() == Some(&SqlState::UNDEFINED_TABLE)
                            || e.code() == Some(&SqlState::UNDEFINED_COLUMN)) =>
                {
                    match client.batch_execute(self.create).await {
                        // Two hosts creating them at once: one of them gets a duplicate error.
                        Err(e)
                            if e.code() != Some(&SqlState::UNIQUE_VIOLATION)
                                && e.code() != Some(&SqlState::DUPLICATE_TABLE)
                                && e.code() != Some(&SqlState::DUPLICATE_COLUMN) =>
                        {
                            return Err(format!(
                                "cannot create the {} tables: {}",
                                self.tables,
                                describe(e)
                            ))
                        }
                        _ => self.client = Some(client),
                    }
                }
                Err(e) => {
                    if e.as_db_error().is_some() {
                        self.client = Some(client);
                    }
                    return Err(describe(e));
                }
            }
        }
        Err(format!("the {} tables could not be created", self.tables))
    }
}

impl PgLock {
    pub async fn claim(
        &mut self,
        name: &str,
        tick: SystemTime,
        holder: &str,
        keep: Duration,
    ) -> Result<Option<String>, String> {
        let ms = keep.as_millis() as i64;
        let rows = self
            .query(
                CLAIM,
                &[
                    (&name, Type::TEXT),
                    (&tick, Type::TIMESTAMPTZ),
                    (&holder, Type::TEXT),
                    (&ms, Type::INT8),
                ],
            )
            .await?;
        if !rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            self.claimant(name, tick)
                .await?
                .unwrap_or_else(|| "another host".into()),
        ))
    }

    pub async fn claimant(
        &mut self,
        name: &str,
        tick: SystemTime,
    ) -> Result<Option<String>, String> {
        let rows = self
            .query(
                CLAIMED_BY,
                &[(&name, Type::TEXT), (&tick, Type::TIMESTAMPTZ)],
            )
            .await?;
        Ok(first_text(&rows))
    }

    pub async fn acquire(
        &mut self,
        name: &str,
        holder: &str,
        tick: Option<SystemTime>,
        proof: &str,
        ttl: Duration,
    ) -> Result<Acquired, String> {
        let ms = ttl.as_millis() as i64;
        let rows = self
            .query(
                ACQUIRE,
                &[
                    (&name, Type::TEXT),
                    (&holder, Type::TEXT),
                    (&proof, Type::TEXT),
                    (&ms, Type::INT8),
                    (&tick, Type::TIMESTAMPTZ),
                ],
            )
            .await?;
        if let Some(row) = rows.first() {
            return Ok(Acquired::Got(row.try_get(0).map_err(describe)?));
        }
        let rows = self.query(HELD_BY, &[(&name, Type::TEXT)]).await?;
        let row = rows.first();
        Ok(Acquired::HeldBy {
            holder: first_text(&rows).unwrap_or_else(|| "another host".into()),
            tick: row.and_then(|r| r.try_get::<_, Option<SystemTime>>(1).ok().flatten()),
        })
    }

    pub async fn renew(&mut self, name: &str, token: i64, ttl: Duration) -> Result<bool, String> {
        let ms = ttl.as_millis() as i64;
        let rows = self
            .query(
                RENEW,
                &[(&name, Type::TEXT), (&token, Type::INT8), (&ms, Type::INT8)],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    pub async fn release(&mut self, name: &str, token: i64) -> Result<bool, String> {
        let rows = self
            .query(RELEASE, &[(&name, Type::TEXT), (&token, Type::INT8)])
            .await?;
        Ok(!rows.is_empty())
    }
}

fn first_text(rows: &[Row]) -> Option<String> {
    rows.first()?.try_get::<_, String>(0).ok()
}

/// A PostgreSQL error in one line: the server's own message when it sent one (a wrong password, a
/// missing database), else the client's with its cause. Neither ever holds the password.
pub fn describe(e: tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// rustls for `sslmode`, as libpq reads it: `prefer` and `require` encrypt without checking who
/// answers; `verify-ca` and `verify-full` check the certificate against `sslrootcert` (else the bundled
/// roots and `SSL_CERT_FILE`) and the host name.
fn tls_config(
    mode: Tls,
    root_cert: Option<&std::path::Path>,
) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    if mode != Tls::VerifyFull {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    match root_cert {
        Some(path) => files.push(path.to_path_buf()),
        None => {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            files.extend(std::env::var_os("SSL_CERT_FILE").map(Into::into));
        }
    }
    for path in files {
        let certs = CertificateDer::pem_file_iter(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for cert in certs.flatten() {
            let _ = roots.add(cert);
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// libpq's `sslmode=require`: the connection is encrypted, the certificate is not checked (the
/// handshake's signatures still are).
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// tokio-postgres's TLS hooks over tokio-rustls: a few lines here rather than another crate that
/// would bring its own X.509 parser for channel binding, which cronbeat does not use. The rustls
/// configuration is built only once the server agreed to TLS: `prefer` against a server without it
/// costs nothing.
struct MakeTls {
    mode: Tls,
    root_cert: Option<std::path::PathBuf>,
}

impl<S> MakeTlsConnect<S> for MakeTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type TlsConnect = Connect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<Connect> {
        let name = rustls::pki_types::ServerName::try_from(domain.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Connect {
            mode: self.mode,
            root_cert: self.root_cert.clone(),
            name,
        })
    }
}

struct Connect {
    mode: Tls,
    root_cert: Option<std::path::PathBuf>,
    name: rustls::pki_types::ServerName<'static>,
}

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let config = tls_config(self.mode, self.root_cert.as_deref())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(self.name, stream)
                .await
                .map(TlsStream)
        })
    }
}

struct TlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for TlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}
