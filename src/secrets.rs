//! cronbeat's own secrets, kept from the command: the variables it does not pass on ([`WITHHELD`]),
//! and the values of its settings that are masked in the reported and stored tail ([`Secrets`]).
//!
//! A command that prints its environment, or a URL it was handed some other way, must not put a lock's
//! password or a monitor's key into the tail that goes to the monitors and into the ledger. The output
//! itself passes through untouched: it is the command's, and cronbeat's stdout and stderr stay byte for
//! byte what the command wrote.

use percent_encoding::percent_decode;
use reqwest::Url;

/// The variables of cronbeat's own the command does not inherit: each holds a secret, or says where
/// secrets are kept. (The others stay: they are settings, and `CRONBEAT_RUN_ID`, `CRONBEAT_TICK` and
/// `CRONBEAT_FENCING_TOKEN` are set for the command to read.)
pub const WITHHELD: [&str; 12] = [
    // Monitor URLs: their paths and user parts are the keys.
    "CRONBEAT_PING",
    // Where monitor URLs are kept.
    "CRONBEAT_PING_FILE",
    // A fleet lock's URL holds the engine's password (and a lock file is no business of the command's:
    // it inherits the lock itself).
    "CRONBEAT_LOCK",
    // The fleet ledger's URL holds the engine's password too.
    "CRONBEAT_LEDGER_URL",
    // Management API keys, where they are kept, and the APIs (a URL may hold a user and password).
    "CRONBEAT_HC_API_KEY",
    "CRONBEAT_HC_API_KEY_FILE",
    "CRONBEAT_HC_API_URL",
    "CRONBEAT_CRONITOR_API_KEY",
    "CRONBEAT_CRONITOR_API_KEY_FILE",
    "CRONBEAT_CRONITOR_API_URL",
    // The config file holds monitors, keys and lock URLs.
    "CRONBEAT_CONFIG",
    // `--redact` patterns often spell out the secret they hide.
    "CRONBEAT_REDACT",
];

/// A secret shorter than this is not looked for: it would mask innocent text and hide little.
pub const MIN_SECRET: usize = 4;
/// An `--env-file` value shorter than this is taken for a setting, not a secret: files that hold a
/// token also hold `DEBUG=1`, `MODE=fast`, `LANG=en_US`, and masking those would hide the tail's words.
pub const MIN_ENV_VALUE: usize = 6;
/// A word of a monitor URL's path is taken for a key when it is at least this long, or at least
/// [`MIN_PATH_KEY_WITH_DIGIT`] long with a digit in it: UUIDs, ping keys and tokens are; `ping`,
/// `heartbeat` and `services` are not.
pub const MIN_PATH_KEY: usize = 16;
pub const MIN_PATH_KEY_WITH_DIGIT: usize = 8;

/// What of a job's settings is masked in the tail: whole URLs as given, and their secret parts (keys in
/// paths, passwords, API keys, `--env-file` values) wherever they appear on their own. Bytes, not text:
/// an `--env-file` value need not be UTF-8.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// Whole values: a monitor's or a lock engine's URL.
    pub whole: Vec<Vec<u8>>,
    /// The secret parts, also looked for cut at the tail's start (see `output::Hygiene`).
    pub pieces: Vec<Vec<u8>>,
}

impl Secrets {
    /// A monitor given as `URL` or `KIND+URL`: the URL, its user and password, the key-like words of its
    /// path, and the values of query parameters named like secrets (`token`, `key`, …).
    pub fn monitor(&mut self, spec: &str) {
        self.whole(spec);
        let url_text = spec.split_once('+').map_or(spec, |(kind, rest)| {
            if kind.chars().all(|c| c.is_ascii_alphanumeric()) && rest.contains("://") {
                rest
            } else {
                spec
            }
        });
        self.whole(url_text);
        let Ok(url) = Url::parse(url_text) else {
            return;
        };
        self.whole(url.as_str());
        self.piece(url.username());
        self.piece(url.password().unwrap_or(""));
        for word in url.path().split('/') {
            if key_like(word) {
                self.piece(word);
            }
        }
        for (name, value) in url.query_pairs() {
            if secret_name(&name) {
                self.piece(&value);
            }
        }
        // The same parts as written in the URL, where the query's decoding changed them.
        if let Some(query) = url.query() {
            for pair in query.split('&') {
                if let Some((name, value)) = pair.split_once('=') {
                    if secret_name(name) {
                        self.piece(value);
                    }
                }
            }
        }
    }

    /// A lock engine's URL and its password (from the URL, or the engine client's variable).
    pub fn engine(&mut self, url: &str, password: Option<&str>) {
        self.whole(url);
        if let Ok(parsed) = Url::parse(url) {
            self.piece(parsed.password().unwrap_or(""));
        }
        self.piece(password.unwrap_or(""));
    }

    /// An API's address: only a password in it is a secret.
    pub fn api_url(&mut self, url: &Url) {
        self.piece(url.password().unwrap_or(""));
    }

    /// A key or password on its own.
    pub fn key(&mut self, key: &str) {
        self.piece(key);
    }

    /// A value of `--env-file`: the whole of it when it is [`MIN_ENV_VALUE`] bytes or more, each such
    /// line of one that spans lines (a key the command prints its own way), and the password of one that
    /// is a URL (`postgres://backup:s3cret@db/prod`), as a lock URL's is.
    pub fn env_value(&mut self, value: &[u8]) {
        for part in std::iter::once(value).chain(value.split(|b| *b == b'\n')) {
            let part = part.strip_suffix(b"\r").unwrap_or(part);
            if part.len() >= MIN_ENV_VALUE {
                push(&mut self.pieces, part);
            }
        }
        if let Some(url) = std::str::from_utf8(value)
            .ok()
            .and_then(|text| Url::parse(text.trim()).ok())
        {
            self.piece(url.password().unwrap_or(""));
        }
    }

    /// A webhook request header: the credentials of `Authorization`, the value of a header named like
    /// a secret (`X-Api-Key`, `X-Auth-Token`, …).
    pub fn header(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        if name == "authorization" || name == "proxy-authorization" {
            let credentials = value.split_once(' ').map_or(value, |(_, c)| c);
            self.piece(credentials.trim());
        } else if secret_name(&name) || name.contains("auth") || name.contains("cookie") {
            self.piece(value.trim());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.whole.is_empty() && self.pieces.is_empty()
    }

    fn whole(&mut self, text: &str) {
        push(&mut self.whole, text.as_bytes());
    }

    /// `text`, and its percent-decoded form where that differs (a password as the engine gets it).
    fn piece(&mut self, text: &str) {
        push(&mut self.pieces, text.as_bytes());
        let decoded: Vec<u8> = percent_decode(text.as_bytes()).collect();
        push(&mut self.pieces, &decoded);
    }
}

fn push(list: &mut Vec<Vec<u8>>, text: &[u8]) {
    if text.len() >= MIN_SECRET && !list.iter().any(|t| t == text) {
        list.push(text.to_vec());
    }
}

/// A word of a URL's path that is a key rather than a name (see [`MIN_PATH_KEY`]).
fn key_like(word: &str) -> bool {
    word.len() >= MIN_PATH_KEY
        || (word.len() >= MIN_PATH_KEY_WITH_DIGIT && word.bytes().any(|b| b.is_ascii_digit()))
}

/// A query parameter or header named like a secret.
fn secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "token",
        "key",
        "secret",
        "password",
        "passwd",
        "signature",
        "sig",
        "auth",
    ]
    .iter()
    .any(|word| name.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(list: &[Vec<u8>]) -> Vec<&str> {
        list.iter()
            .map(|t| std::str::from_utf8(t).unwrap())
            .collect()
    }

    #[test]
    fn a_monitor_url_gives_its_keys_not_its_words() {
        let mut s = Secrets::default();
        s.monitor("https://hc-ping.com/Ab3dEf9hIj2kLm7nOp4qRs/nightly-backup");
        s.monitor("sentry+https://0123456789abcdef@o1.ingest.sentry.io/42?monitor=backup");
        s.monitor("https://uptime.betterstack.com/api/v1/heartbeat/heartbeat");
        s.monitor("webhook+https://ops.example/hooks/cron?token=t%2Bk3n&env=production");
        s.monitor("https://nosnch.in/c2354d53d2");
        assert_eq!(
            texts(&s.pieces),
            [
                "Ab3dEf9hIj2kLm7nOp4qRs",
                "0123456789abcdef",
                "t+k3n",
                "t%2Bk3n",
                "c2354d53d2"
            ]
        );
        let whole = texts(&s.whole);
        assert!(whole
            .contains(&"sentry+https://0123456789abcdef@o1.ingest.sentry.io/42?monitor=backup"));
        assert!(whole.contains(&"https://0123456789abcdef@o1.ingest.sentry.io/42?monitor=backup"));
    }

    #[test]
    fn an_engine_gives_its_password_as_written_and_as_meant() {
        let mut s = Secrets::default();
        s.engine(
            "redis://:pa%40ss%3Aword@127.0.0.1:6379/0",
            Some("pa@ss:word"),
        );
        assert_eq!(
            texts(&s.whole),
            ["redis://:pa%40ss%3Aword@127.0.0.1:6379/0"]
        );
        assert_eq!(texts(&s.pieces), ["pa%40ss%3Aword", "pa@ss:word"]);
        let mut s = Secrets::default();
        s.engine("postgres://cronbeat@db/cron", None);
        assert!(s.pieces.is_empty(), "a user name is no secret: {s:?}");
    }

    #[test]
    fn headers_give_their_credentials() {
        let mut s = Secrets::default();
        s.header("Authorization", "Bearer s3cr3t-token");
        s.header("X-Api-Key", "k-123456");
        s.header("Content-Type", "application/json");
        s.key("abc");
        assert_eq!(texts(&s.pieces), ["s3cr3t-token", "k-123456"]);
    }

    #[test]
    fn env_file_values_of_six_bytes_or_more_are_secrets() {
        let mut s = Secrets::default();
        for value in [
            &b"1"[..],
            b"en_US",
            b"hunter2secret",
            b"postgres://backup:s3cr@db/prod",
            b"-----BEGIN KEY-----\r\nMIIEvQIBADAN\r\nab\n",
            b"\xff\xfe-not-utf8",
        ] {
            s.env_value(value);
        }
        assert_eq!(
            s.pieces,
            [
                &b"hunter2secret"[..],
                b"postgres://backup:s3cr@db/prod",
                b"s3cr",
                b"-----BEGIN KEY-----\r\nMIIEvQIBADAN\r\nab\n",
                b"-----BEGIN KEY-----",
                b"MIIEvQIBADAN",
                b"\xff\xfe-not-utf8",
            ]
        );
        assert!(s.whole.is_empty());
    }
}
