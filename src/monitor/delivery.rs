//! Getting one ping to a monitor: a short timeout per attempt, retries with exponential backoff and
//! jitter on transient failures only, never a redirect followed, never a secret in an error.
//!
//! Worst case for one ping: (retries + 1) × ping_timeout + retries × MAX_WAIT, and never past the run's
//! report deadline (`Bounds`) once the command has ended.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH};
use reqwest::{Client, Method, StatusCode};
use tokio::sync::watch;

use super::redact::redact;

/// The longest wait between two attempts, whether from backoff or a server's `Retry-After`.
pub const MAX_WAIT: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Enough of a ping's response body to let the connection be reused; the rest is never read.
const BODY_CAP: usize = 4096;
/// The most of an API answer kept (a check's JSON is about 1 KB; a list of them more).
const API_BODY_CAP: usize = 256 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub timeout: Duration,
    pub retries: u32,
}

impl RetryPolicy {
    /// The longest one ping can take with these settings.
    pub fn worst_case(&self) -> Duration {
        self.timeout * (self.retries + 1) + MAX_WAIT * self.retries
    }

    /// The wait before retry number `retry` (1-based): 0.5 s doubling, ±25 % jitter, at most MAX_WAIT;
    /// a server's `Retry-After` replaces it, within the same cap.
    pub fn wait_before(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(asked) = retry_after {
            return asked.min(MAX_WAIT);
        }
        let nominal = FIRST_BACKOFF.saturating_mul(1u32 << (retry.saturating_sub(1)).min(16));
        nominal.mul_f64(0.75 + fastrand::f64() * 0.5).min(MAX_WAIT)
    }
}

#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Vec<u8>,
    /// Keep the answer's body (an API call reads it); a ping's is read only to reuse the connection.
    pub keep_body: bool,
}

impl HttpRequest {
    pub fn post(url: String, body: Vec<u8>) -> HttpRequest {
        HttpRequest {
            method: Method::POST,
            url,
            headers: Vec::new(),
            body,
            keep_body: false,
        }
    }

    pub fn get(url: String) -> HttpRequest {
        HttpRequest {
            method: Method::GET,
            url,
            headers: Vec::new(),
            body: Vec::new(),
            keep_body: false,
        }
    }
}

/// What a monitor answered, for protocols that adapt (Healthchecks' `Ping-Body-Limit`) and API calls.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body, for a request that keeps it (at most `API_BODY_CAP` bytes); else empty.
    pub body: Vec<u8>,
}

/// How far the pings still to come may go. The run sets them as it ends, and every delivery under way
/// follows a change at once: a stop must not wait for a backoff to run out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bounds {
    /// Past this instant no attempt runs and no wait lasts: what is left is given up. Set when the
    /// command has ended (`--report-timeout`), so a hanging monitor cannot hold the run open.
    pub deadline: Option<Instant>,
    /// A stop was requested (SIGTERM and the like): whoever sent it waits for cronbeat to exit. No more
    /// retries: an attempt under way is the last, and a ping waiting for a retry gets one attempt now,
    /// which may use all the time left until the deadline.
    pub last_try: bool,
}

/// Where a delivery reads the run's current bounds.
pub type BoundsRx = watch::Receiver<Bounds>;

/// Bounds that never change, for a delivery outside a run (`check --ping`).
pub fn unbounded() -> BoundsRx {
    watch::channel(Bounds::default()).1
}

/// Why a ping was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    /// An answer not worth retrying, or every retry spent.
    Failed,
    /// The report deadline passed first.
    Deadline,
    /// A stop was requested: no more retries.
    Stopping,
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub attempts: u32,
    pub reason: String,
    pub why: GaveUp,
    /// The server's answer when it was one not worth retrying (a 4xx), for API calls that read it.
    pub answer: Option<Box<Response>>,
}

impl Failure {
    pub fn new(attempts: u32, reason: String, why: GaveUp) -> Failure {
        Failure {
            attempts,
            reason,
            why,
            answer: None,
        }
    }

    /// Given up at the deadline; `reason` is what became of the last attempt, if one was made.
    pub fn deadline(attempts: u32, reason: Option<String>) -> Failure {
        let reason = reason.unwrap_or_else(|| "no time was left to send it".to_string());
        Failure::new(attempts, reason, GaveUp::Deadline)
    }
}

/// A successful delivery: the answer, and how many attempts it took.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub response: Response,
    pub attempts: u32,
}

enum Attempt {
    Done(Response),
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    GiveUp(String, Option<Box<Response>>),
}

pub async fn deliver(
    client: &Client,
    request: &HttpRequest,
    policy: &RetryPolicy,
    bounds: &BoundsRx,
) -> Result<Delivered, Failure> {
    let mut bounds = bounds.clone();
    let mut attempts = 0;
    let mut last_reason = None;
    loop {
        let Bounds { deadline, last_try } = *bounds.borrow_and_update();
        let left = deadline.map(|at| at.saturating_duration_since(Instant::now()));
        if left.is_some_and(|left| left.is_zero()) {
            return Err(Failure::deadline(attempts, last_reason));
        }
        attempts += 1;
        // After a stop the one attempt left may use all the time there is: with a server that is slow
        // rather than dead, that is what gets the report through.
        let limit = match (last_try, left) {
            (true, Some(left)) => left,
            (false, Some(left)) => policy.timeout.min(left),
            (_, None) => policy.timeout,
        };
        let by_deadline = || {
            Err(Failure::deadline(
                attempts,
                Some("no answer by then".into()),
            ))
        };
        let outcome = tokio::select! {
            outcome = tokio::time::timeout(limit, attempt(client, request)) => match outcome {
                Ok(outcome) => outcome,
                Err(_) if left == Some(limit) => return by_deadline(),
                Err(_) => Attempt::Retry {
                    reason: format!(
                        "no answer within {}",
                        humantime::format_duration(policy.timeout)
                    ),
                    retry_after: None,
                },
            },
            // A deadline set while the attempt runs (the command ended meanwhile) cuts it too.
            () = deadline_passes(bounds.clone()) => return by_deadline(),
        };
        let (reason, retry_after) = match outcome {
            Attempt::Done(response) => return Ok(Delivered { response, attempts }),
            Attempt::GiveUp(reason, answer) => {
                return Err(Failure {
                    answer,
                    ..Failure::new(attempts, reason, GaveUp::Failed)
                })
            }
            Attempt::Retry {
                reason,
                retry_after,
            } => (reason, retry_after),
        };
        if bounds.borrow().last_try {
            return Err(Failure::new(attempts, reason, GaveUp::Stopping));
        }
        if attempts > policy.retries {
            return Err(Failure::new(attempts, reason, GaveUp::Failed));
        }
        let retry_at = Instant::now() + policy.wait_before(attempts, retry_after);
        last_reason = Some(reason);
        match backoff(&mut bounds, retry_at).await {
            Backoff::Retry => {}
            // No attempt could start before the deadline: give up now rather than at it.
            Backoff::TooLate => return Err(Failure::deadline(attempts, last_reason)),
        }
    }
}

enum Backoff {
    Retry,
    TooLate,
}

/// Waits until `retry_at`, or less: a stop wants its one attempt now, and a deadline before `retry_at`
/// leaves nothing to wait for.
async fn backoff(bounds: &mut BoundsRx, retry_at: Instant) -> Backoff {
    let too_late = |b: &Bounds| b.deadline.is_some_and(|at| at <= retry_at);
    loop {
        let current = *bounds.borrow_and_update();
        if too_late(&current) {
            return Backoff::TooLate;
        }
        if current.last_try {
            return Backoff::Retry;
        }
        tokio::select! {
            () = tokio::time::sleep_until(retry_at.into()) => return Backoff::Retry,
            changed = bounds.changed() => {
                if changed.is_err() {
                    // Nobody can change the bounds any more: wait out the backoff.
                    tokio::time::sleep_until(retry_at.into()).await;
                    return Backoff::Retry;
                }
            }
        }
    }
}

/// Completes when the deadline passes, following changes to it; never without one.
pub async fn deadline_passes(mut bounds: BoundsRx) {
    loop {
        let deadline = bounds.borrow_and_update().deadline;
        match deadline {
            Some(at) => tokio::select! {
                () = tokio::time::sleep_until(at.into()) => return,
                changed = bounds.changed() => {
                    if changed.is_err() {
                        tokio::time::sleep_until(at.into()).await;
                        return;
                    }
                }
            },
            None => {
                if bounds.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

async fn attempt(client: &Client, request: &HttpRequest) -> Attempt {
    let mut builder = client
        .request(request.method.clone(), &request.url)
        .header(CONTENT_LENGTH, request.body.len());
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let sent = builder.body(request.body.clone()).send().await;
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => return classify_error(&e, &request.url),
    };
    let status = response.status();
    let headers = response.headers().clone();
    let cap = if request.keep_body {
        API_BODY_CAP
    } else {
        BODY_CAP
    };
    let mut read = 0;
    let mut body = Vec::new();
    while read < cap {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                read += chunk.len();
                if request.keep_body {
                    let room = cap - body.len().min(cap);
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
            }
            _ => break,
        }
    }
    let answer = Response {
        status,
        headers,
        body,
    };
    if status.is_success() {
        return Attempt::Done(answer);
    }
    let reason = format!("HTTP {}", status.as_u16());
    if status.is_redirection() {
        return Attempt::GiveUp(
            format!("{reason}: redirects are not followed (the ping URL is a secret)"),
            None,
        );
    }
    if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        let retry_after = answer
            .headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        return Attempt::Retry {
            reason,
            retry_after,
        };
    }
    Attempt::GiveUp(reason, Some(Box::new(answer)))
}

fn classify_error(err: &reqwest::Error, url: &str) -> Attempt {
    let mut reason = err.to_string();
    let mut source = std::error::Error::source(err);
    let mut certificate = false;
    while let Some(inner) = source {
        let text = inner.to_string();
        certificate |= text.contains("certificate") || text.contains("UnknownIssuer");
        reason = text;
        source = inner.source();
    }
    // Never echo the URL, whatever the error type embeds.
    let reason = reason.replace(url, &redact(url));
    if certificate {
        // An untrusted certificate will not become trusted by asking again.
        Attempt::GiveUp(format!("TLS certificate not trusted: {reason}"), None)
    } else {
        Attempt::Retry {
            reason,
            retry_after: None,
        }
    }
}

/// The HTTP client: rustls with bundled Mozilla roots (works with no CA store, e.g. in a `scratch`
/// image), plus every certificate in `SSL_CERT_FILE` for private CAs; proxies from the environment.
/// An unusable `SSL_CERT_FILE` is a warning, not an error: the bundled roots still reach public monitors,
/// and a private one that needed the file fails with its own warning.
pub fn client() -> Result<(Client, Option<String>), String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut warning = None;
    if let Some(path) = std::env::var_os("SSL_CERT_FILE") {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::CertificateDer;
        let shown = std::path::Path::new(&path).display().to_string();
        let added = CertificateDer::pem_file_iter(&path)
            .map_err(|e| format!("cannot read it: {e}"))
            .map(|certs| {
                certs
                    .flatten()
                    .filter(|c| roots.add(c.clone()).is_ok())
                    .count()
            });
        let problem = match added {
            Ok(0) => Some("no usable certificate in it".to_string()),
            Ok(_) => None,
            Err(e) => Some(e),
        };
        warning = problem.map(|p| {
            format!("SSL_CERT_FILE {shown}: {p}; trusting the bundled root certificates only")
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Client::builder()
        .tls_backend_preconfigured(tls)
        .user_agent(concat!("cronbeat/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map(|client| (client, warning))
        .map_err(|e| format!("HTTP client setup failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_near_half_a_second_and_is_capped() {
        let p = RetryPolicy {
            timeout: Duration::from_secs(5),
            retries: 3,
        };
        for _ in 0..100 {
            let first = p.wait_before(1, None);
            assert!(first >= Duration::from_millis(375) && first <= Duration::from_millis(625));
            assert!(p.wait_before(10, None) <= MAX_WAIT);
        }
        assert_eq!(p.wait_before(1, Some(Duration::from_secs(60))), MAX_WAIT);
        assert_eq!(
            p.wait_before(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(p.worst_case(), Duration::from_secs(35));
    }
}
