//! Prometheus Pushgateway: `pushgateway+http://HOST:9091/?job=NAME[&instance=X][&LABEL=VALUE…]`.
//! Every push is `POST <base>/metrics/job/<job>[/<label>/<value>…]` in the text exposition format.
//! POST (not PUT) replaces only the metrics pushed, so `cronbeat_last_success_timestamp_seconds`,
//! pushed only after a success, survives the failures that follow it.

use std::time::SystemTime;

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::Url;

use super::delivery::HttpRequest;
use super::metrics::{self, Values};
use super::protocol::{base64, http_url, Action, Protocol, RunInfo};
use super::redact::redact;
use crate::events::Report;

pub struct Pushgateway {
    group: Url,
}

fn valid_label(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// One pair of a grouping key's path: `<label>/<value>`, or `<label>@base64/<encoded>` when the
/// value holds a `/` or is empty (the Pushgateway's own escape).
fn key_segments(name: &str, value: &str) -> [String; 2] {
    if value.is_empty() || value.contains('/') {
        [format!("{name}@base64"), base64_url(value.as_bytes())]
    } else {
        [name.to_string(), value.to_string()]
    }
}

/// RFC 4648 base64 with the URL alphabet, padded (`=` for an empty value, as the Pushgateway wants).
fn base64_url(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "=".into();
    }
    base64(bytes, true)
}

impl Pushgateway {
    pub fn new(spec: &str) -> Result<Pushgateway, String> {
        let url = http_url(spec)?;
        let fail = |what: String| format!("{}: {what}", redact(spec));
        let mut job = None;
        let mut labels = Vec::new();
        for (name, value) in url.query_pairs() {
            if name == "job" {
                job = Some(value.to_string());
            } else if valid_label(&name) {
                labels.push((name.to_string(), value.to_string()));
            } else {
                return Err(fail(format!("{name:?} is not a valid label name")));
            }
        }
        let job = job
            .filter(|j| !j.is_empty())
            .ok_or_else(|| fail("a Pushgateway needs ?job=NAME".into()))?;

        let mut segments = vec!["metrics".to_string()];
        segments.extend(key_segments("job", &job));
        for (name, value) in &labels {
            segments.extend(key_segments(name, value));
        }
        let mut group = url.clone();
        group.set_query(None);
        group.set_fragment(None);
        group
            .path_segments_mut()
            .map_err(|_| fail("not a usable URL".into()))?
            .pop_if_empty()
            .extend(&segments);
        Ok(Pushgateway { group })
    }

    fn push(&self, values: &Values) -> Action {
        let mut request = HttpRequest::post(
            self.group.to_string(),
            metrics::render(values, &[]).into_bytes(),
        );
        request.headers.push((
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        ));
        Action::Http(request)
    }
}

impl Protocol for Pushgateway {
    fn kind(&self) -> &'static str {
        "pushgateway"
    }

    fn target(&self) -> String {
        redact(self.group.as_str())
    }

    fn start(&mut self, run: &RunInfo) -> Vec<Action> {
        vec![self.push(&metrics::at_start(SystemTime::now(), run))]
    }

    fn finish(&mut self, run: &RunInfo, report: &Report) -> Vec<Action> {
        vec![self.push(&metrics::at_finish(report, run))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_key_in_the_path() {
        let p = Pushgateway::new("http://pgw:9091/?job=backup&instance=db1").unwrap();
        assert_eq!(
            p.group.as_str(),
            "http://pgw:9091/metrics/job/backup/instance/db1"
        );
        let p = Pushgateway::new("https://pgw/prefix?job=a/b&instance=").unwrap();
        assert_eq!(
            p.group.as_str(),
            "https://pgw/prefix/metrics/job@base64/YS9i/instance@base64/="
        );
        assert!(Pushgateway::new("http://pgw:9091/").is_err());
        assert!(Pushgateway::new("http://pgw:9091/?job=x&bad-label=1").is_err());
    }

    #[test]
    fn base64() {
        assert_eq!(base64_url(b"f"), "Zg==");
        assert_eq!(base64_url(b"fo"), "Zm8=");
        assert_eq!(base64_url(b"foo"), "Zm9v");
        assert_eq!(base64_url(b"/var/tmp"), "L3Zhci90bXA=");
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8=");
    }
}
