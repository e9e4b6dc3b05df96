//! Ping URLs are secrets (the path or the user part is the key): logs show the host only.

/// `https://hc-ping.com/SECRET/start?rid=…` → `hc-ping.com/…`.
pub fn redact(url: &str) -> String {
    let without_kind = url.split_once('+').map_or(url, |(kind, rest)| {
        if kind.chars().all(|c| c.is_ascii_alphanumeric()) && rest.contains("://") {
            rest
        } else {
            url
        }
    });
    match reqwest::Url::parse(without_kind) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or("?");
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            let rest = if parsed.path().len() > 1 || parsed.query().is_some() {
                "/…"
            } else {
                ""
            };
            format!("{host}{port}{rest}")
        }
        Err(_) => "(unparsable URL)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn keeps_only_the_host() {
        assert_eq!(
            redact("https://hc-ping.com/6e1fbf8f-1b0d-4f55-9c3e-aa05fe5e6d3e/start?rid=x"),
            "hc-ping.com/…"
        );
        assert_eq!(redact("http://127.0.0.1:8080/key/slug"), "127.0.0.1:8080/…");
        assert_eq!(
            redact("sentry+https://PUBLICKEY@o1.ingest.sentry.io/42"),
            "o1.ingest.sentry.io/…"
        );
        assert!(!redact("https://user:secret@host/x").contains("secret"));
        assert_eq!(redact("not a url secret"), "(unparsable URL)");
    }
}
