//! The wrappers cronbeat replaces, found in a job's command and turned into its monitor:
//!
//! - the Healthchecks curl recipe: `JOB && curl -fsS -m 10 --retry 5 -o /dev/null URL`, `JOB; curl … URL/$?`,
//!   the `curl … URL/start; JOB; curl … URL/$?` pair, and `JOB && curl … URL || curl … URL/fail`;
//! - `runitor [-uuid X | -ping-key K -slug S] [-api-url U] -- COMMAND…`;
//! - `cronitor exec KEY COMMAND…`.
//!
//! The job keeps its own text (cut from the line's bytes, so cron's `%` handling of it is unchanged) and
//! the ping goes: cronbeat reports start, exit status and output instead. What is not recognised whole (a
//! curl option that is not the recipe's, a runitor option cronbeat has no match for) is left in the
//! command, which is then wrapped as it is.

use super::crontab::{as_run, escaped_for_cron};
use super::words::{lex, Kind, Token};

/// A job whose old wrapper becomes cronbeat's monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// The job's own command, as the line writes it (before cron's first unescaped `%`).
    pub command: Vec<u8>,
    /// The monitor URL (a secret).
    pub monitor: String,
    /// What was dropped, for the plan.
    pub dropped: String,
    /// A name the monitor suggests (a Healthchecks slug, a Cronitor key).
    pub name: Option<String>,
}

/// What the conversion found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No old wrapper.
    Nothing,
    Converted(Converted),
    /// An old wrapper that cannot be converted whole, and why: it stays in the command.
    Kept(String),
}

/// Looks for an old wrapper in `command` (the line's bytes before cron's first unescaped `%`). `env`
/// gives the crontab's variables (runitor reads `CHECK_UUID`, `PING_KEY` and `HC_API_URL`);
/// `cronitor_key` is the Cronitor API key a `cronitor exec` line's URL needs.
pub fn convert(
    command: &[u8],
    env: &dyn Fn(&str) -> Option<String>,
    cronitor_key: Option<&str>,
) -> Found {
    let (text, from) = as_run(command);
    let Ok(tokens) = lex(&text) else {
        return Found::Nothing;
    };
    let raw = |first: &Token, last: &Token| command[from[first.start]..from[last.end]].to_vec();
    let program = tokens
        .first()
        .and_then(Token::literal)
        .map(|p| p.rsplit(|b| *b == b'/').next().unwrap_or_default().to_vec());
    match program.as_deref() {
        Some(b"runitor") => return runitor(&tokens, env, &raw),
        Some(b"cronitor") => return cronitor(&tokens, &text, cronitor_key),
        _ => {}
    }
    curl_recipe(&tokens, &text, &raw)
}

/// One curl ping: its URL, and whether the exit status was appended (`URL/$?`).
struct Ping {
    url: String,
    with_status: bool,
}

const CURL_FLAGS: [&str; 18] = [
    "--fail",
    "--silent",
    "--show-error",
    "--location",
    "--insecure",
    "--head",
    "--retry-connrefused",
    "--retry-all-errors",
    "--ipv4",
    "--ipv6",
    "--compressed",
    "--no-progress-meter",
    "-I",
    "-4",
    "-6",
    "-q",
    "--get",
    "-G",
];
const CURL_VALUED: [&str; 12] = [
    "-m",
    "--max-time",
    "--retry",
    "--retry-delay",
    "--retry-max-time",
    "--connect-timeout",
    "-o",
    "--output",
    "-X",
    "--request",
    "-A",
    "--user-agent",
];

/// Whether `tokens` are one curl ping (options of the recipe's kind, one URL, output thrown away).
fn curl_ping(tokens: &[Token], text: &[u8]) -> Option<Ping> {
    let (first, args) = tokens.split_first()?;
    let program = first.literal()?;
    if program != b"curl" && !program.ends_with(b"/curl") {
        return None;
    }
    let mut url = None;
    let mut at = 0;
    while at < args.len() {
        let token = &args[at];
        at += 1;
        if let Kind::Op(op) = token.kind {
            // Output thrown away: `>/dev/null`, `2>&1`, `&>/dev/null`.
            let target = args.get(at).and_then(Token::literal)?;
            at += 1;
            let fine = match op {
                ">" | ">>" | "&>" => target == b"/dev/null",
                ">&" => target == b"1" || target == b"2",
                _ => false,
            };
            if !fine {
                return None;
            }
            continue;
        }
        let word = &text[token.start..token.end];
        // The descriptor of a redirection: `2>&1`.
        let redirects_next = args
            .get(at)
            .is_some_and(|next| next.start == token.end && matches!(next.kind, Kind::Op(_)));
        if redirects_next
            && token
                .literal()
                .is_some_and(|w| w.iter().all(u8::is_ascii_digit))
        {
            continue;
        }
        match token.literal() {
            Some(value) if value.starts_with(b"-") => {
                let value = std::str::from_utf8(value).ok()?;
                if CURL_FLAGS.contains(&value) {
                    continue;
                }
                if CURL_VALUED.contains(&value) {
                    let given = args.get(at).and_then(Token::literal)?;
                    at += 1;
                    if matches!(value, "-o" | "--output") && given != b"/dev/null" {
                        return None;
                    }
                    continue;
                }
                // Short flags run together: `-fsS`, `-fsSm 10`, `-m10`.
                let short = value.strip_prefix('-').filter(|s| !s.starts_with('-'))?;
                let (letters, timeout) = match short.split_once('m') {
                    Some((letters, rest)) => (letters, Some(rest)),
                    None => (short, None),
                };
                if !letters.chars().all(|c| "fsSLkq".contains(c)) {
                    return None;
                }
                match timeout {
                    Some("") => {
                        args.get(at).and_then(Token::literal)?;
                        at += 1;
                    }
                    Some(digits) if !digits.chars().all(|c| c.is_ascii_digit()) => return None,
                    _ => {}
                }
            }
            Some(value) if is_url(value) && url.is_none() => {
                url = Some(Ping {
                    url: String::from_utf8(value.to_vec()).ok()?,
                    with_status: false,
                });
            }
            None if url.is_none() => {
                // `URL/$?`, quoted or not: the only expansion the recipe has.
                let unquoted = match word {
                    [b'"', inner @ .., b'"'] => inner,
                    other => other,
                };
                let base = unquoted.strip_suffix(b"/$?")?;
                if !is_url(base) || base.iter().any(|b| b"$`\\'\" ".contains(b)) {
                    return None;
                }
                url = Some(Ping {
                    url: String::from_utf8(base.to_vec()).ok()?,
                    with_status: true,
                });
            }
            _ => return None,
        }
    }
    url
}

fn is_url(text: &[u8]) -> bool {
    (text.starts_with(b"https://") || text.starts_with(b"http://")) && text.len() > 8
}

/// Splits a token list at its operators `;`, `&&` and `||` outside parentheses: the simple commands (and
/// pipelines) and the operator before each.
fn list(tokens: &[Token]) -> Vec<(Option<&'static str>, &[Token])> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut before = None;
    for (i, token) in tokens.iter().enumerate() {
        match token.kind {
            Kind::Op("(") => depth += 1,
            Kind::Op(")") => depth -= 1,
            Kind::Op(op @ (";" | "&&" | "||")) if depth == 0 => {
                parts.push((before, &tokens[start..i]));
                before = Some(op);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push((before, &tokens[start..]));
    parts
}

/// The Healthchecks recipe's forms, the job being everything that is not its pings.
fn curl_recipe(tokens: &[Token], text: &[u8], raw: &dyn Fn(&Token, &Token) -> Vec<u8>) -> Found {
    let parts = list(tokens);
    if parts.len() < 2 || parts.iter().any(|(_, p)| p.is_empty()) {
        return Found::Nothing;
    }
    let ping = |i: usize| curl_ping(parts[i].1, text);
    let last = parts.len() - 1;
    let Some(mut tail) = ping(last) else {
        return Found::Nothing;
    };
    let mut end = last;
    let mut dropped = Vec::new();
    // `JOB && curl URL || curl URL/fail`: the failure ping goes first.
    if parts[last].0 == Some("||") {
        let base = match tail.url.strip_suffix("/fail") {
            Some(base) if !tail.with_status => base.to_string(),
            _ => return Found::Nothing,
        };
        match ping(last - 1) {
            Some(success)
                if parts[last - 1].0 == Some("&&") && success.url == base && last >= 2 =>
            {
                dropped.push("the failure ping after ||");
                tail = success;
                end = last - 1;
            }
            _ => return Found::Nothing,
        }
    }
    let separator = parts[end].0;
    let base = tail.url.clone();
    if !matches!(separator, Some(";" | "&&")) || base.ends_with("/start") {
        return Found::Nothing;
    }
    dropped.insert(
        0,
        match (separator, tail.with_status) {
            (Some("&&"), _) => "the success ping after &&",
            (_, true) => "the exit-status ping after ;",
            _ => "the ping after ;",
        },
    );
    let mut begin = 0;
    if let Some(start) = ping(0) {
        if start.url.strip_suffix("/start") == Some(base.as_str()) && !start.with_status {
            if end < 2 {
                return Found::Nothing;
            }
            begin = 1;
            dropped.insert(0, "the start ping");
        }
    }
    let job = &parts[begin..end];
    let (Some(first), Some(last_token)) = (
        job.first().and_then(|(_, p)| p.first()),
        job.last().and_then(|(_, p)| p.last()),
    ) else {
        return Found::Nothing;
    };
    Found::Converted(Converted {
        command: raw(first, last_token),
        name: slug_of(&base),
        monitor: base,
        dropped: format!("Healthchecks curl recipe: {}", dropped.join(", ")),
    })
}

/// A Healthchecks slug URL's slug (`…/PING-KEY/SLUG`); none for a UUID URL.
fn slug_of(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let segments: Vec<&str> = parsed.path_segments()?.filter(|s| !s.is_empty()).collect();
    let last = segments.last()?;
    (segments.len() >= 2 && uuid::Uuid::try_parse(last).is_err()).then(|| last.to_string())
}

/// The runitor options cronbeat has an equivalent for: the monitor's address, and what changes nothing.
const RUNITOR_VALUED: [&str; 6] = [
    "uuid",
    "slug",
    "ping-key",
    "api-url",
    "api-timeout",
    "api-retries",
];
const RUNITOR_FLAGS: [&str; 4] = ["create", "quiet", "silent", "no-output-in-ping"];

fn runitor(
    tokens: &[Token],
    env: &dyn Fn(&str) -> Option<String>,
    raw: &dyn Fn(&Token, &Token) -> Vec<u8>,
) -> Found {
    if tokens
        .iter()
        .any(|t| matches!(t.kind, Kind::Op(op) if !op.contains(['>', '<'])))
    {
        return Found::Kept("runitor with shell operators around it: not converted".into());
    }
    let mut values: Vec<(String, String)> = Vec::new();
    let mut create = false;
    let mut at = 1;
    loop {
        let Some(word) = tokens.get(at).and_then(Token::literal) else {
            return Found::Kept("runitor without `--` before the command: not converted".into());
        };
        at += 1;
        if word == b"--" {
            break;
        }
        let word = String::from_utf8_lossy(word);
        let Some(flag) = word.strip_prefix("--").or_else(|| word.strip_prefix('-')) else {
            return Found::Kept("runitor without `--` before the command: not converted".into());
        };
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (flag, None),
        };
        if RUNITOR_FLAGS.contains(&name) {
            create |= name == "create";
            continue;
        }
        if !RUNITOR_VALUED.contains(&name) {
            return Found::Kept(format!(
                "runitor option -{name}: not converted (cronbeat has no equivalent)"
            ));
        }
        let value = match inline {
            Some(value) => value,
            None => match tokens.get(at).and_then(Token::literal) {
                Some(value) => {
                    at += 1;
                    String::from_utf8_lossy(value).into_owned()
                }
                None => return Found::Kept(format!("runitor -{name}: not a plain value")),
            },
        };
        values.push((name.to_string(), value));
    }
    let get = |name: &str, var: &str| {
        values
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| env(var))
    };
    let api = get("api-url", "HC_API_URL").unwrap_or_else(|| "https://hc-ping.com".into());
    let api = api.trim_end_matches('/');
    let (url, name) = match (get("uuid", "CHECK_UUID"), get("slug", "")) {
        (Some(uuid), None) => (format!("{api}/{uuid}"), None),
        (_, Some(slug)) => match get("ping-key", "PING_KEY") {
            Some(key) => (format!("{api}/{key}/{slug}"), Some(slug)),
            None => return Found::Kept("runitor -slug without a ping key: not converted".into()),
        },
        (None, None) => {
            return Found::Kept("runitor without -uuid or -slug: not converted".into());
        }
    };
    let url = if create {
        format!("{url}?create=1")
    } else {
        url
    };
    let (Some(first), Some(last)) = (tokens.get(at), tokens.last()) else {
        return Found::Kept("runitor without a command after `--`".into());
    };
    Found::Converted(Converted {
        command: raw(first, last),
        monitor: url,
        dropped: "runitor".into(),
        name,
    })
}

fn cronitor(tokens: &[Token], text: &[u8], key: Option<&str>) -> Found {
    if tokens.get(1).and_then(Token::literal) != Some(b"exec") {
        return Found::Nothing;
    }
    let Some(monitor) = tokens.get(2).and_then(Token::literal) else {
        return Found::Kept("cronitor exec without a plain monitor key: not converted".into());
    };
    let monitor = String::from_utf8_lossy(monitor).into_owned();
    let words = &tokens[3.min(tokens.len())..];
    if words.is_empty() {
        return Found::Kept("cronitor exec without a command".into());
    }
    // cronitor joins its arguments into one command line for the shell: only plain words can be
    // joined back into the same line.
    let mut joined = Vec::new();
    for word in words {
        let Some(value) = word.literal() else {
            return Found::Kept(format!(
                "cronitor exec: {:?} is not a plain word: not converted",
                String::from_utf8_lossy(&text[word.start..word.end])
            ));
        };
        if !joined.is_empty() {
            joined.push(b' ');
        }
        joined.extend_from_slice(value);
    }
    let Some(key) = key else {
        return Found::Kept(
            "cronitor exec: give --cronitor-api-key to convert it (its URL needs the key)".into(),
        );
    };
    let Some(command) = escaped_for_cron(&joined) else {
        return Found::Kept("cronitor exec: a \\ before a % cannot be written back".into());
    };
    Found::Converted(Converted {
        command,
        monitor: format!("https://cronitor.link/p/{key}/{monitor}"),
        dropped: "cronitor exec".into(),
        name: Some(monitor),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn converted(command: &str) -> Converted {
        match convert(command.as_bytes(), &|_| None, Some("K")) {
            Found::Converted(c) => c,
            other => panic!("{command:?}: {other:?}"),
        }
    }

    fn nothing(command: &str) -> Found {
        convert(command.as_bytes(), &|_| None, Some("K"))
    }

    const URL: &str = "https://hc-ping.com/6e1fbf8f-1b0d-4f55-9c3e-aa05fe5e6d3e";

    #[test]
    fn the_healthchecks_recipe() {
        let c = converted(&format!(
            "/usr/local/bin/backup --full && curl -fsS -m 10 --retry 5 -o /dev/null {URL}"
        ));
        assert_eq!(c.command, b"/usr/local/bin/backup --full");
        assert_eq!(c.monitor, URL);
        assert_eq!(c.name, None);
        let c = converted(&format!(
            "cd /x && ./run.sh; curl -fsS --retry 3 {URL}/$? >/dev/null 2>&1"
        ));
        assert_eq!(c.command, b"cd /x && ./run.sh");
        assert!(c.dropped.contains("exit-status"));
        let c = converted(&format!(
            "curl -fsS -m 10 --retry 5 -o /dev/null {URL}/start ; echo 100\\% | job ; curl -fsS -m 10 --retry 5 -o /dev/null \"{URL}/$?\""
        ));
        assert_eq!(c.command, b"echo 100\\% | job");
        assert_eq!(c.monitor, URL);
        let c = converted(&format!("job && curl -fsS {URL} || curl -fsS {URL}/fail"));
        assert_eq!(c.command, b"job");
        let c = converted("job && curl -fsS https://hc-ping.com/KEY/nightly-db");
        assert_eq!(c.name.as_deref(), Some("nightly-db"));

        for other in [
            format!("job && curl -d @file {URL}"),
            format!("job && curl {URL} | tee x"),
            format!("curl {URL}"),
            format!("job && curl -o /tmp/out {URL}"),
            format!("job || curl {URL}"),
            format!("job & curl {URL}"),
            format!("job && curl {URL}/start"),
            "job && echo done".to_string(),
        ] {
            assert_eq!(nothing(&other), Found::Nothing, "{other}");
        }
    }

    #[test]
    fn runitor_and_cronitor() {
        let c = converted("runitor -uuid 6e1f -- /usr/bin/backup --full > /var/log/b 2>&1");
        assert_eq!(c.command, b"/usr/bin/backup --full > /var/log/b 2>&1");
        assert_eq!(c.monitor, "https://hc-ping.com/6e1f");
        let c = converted("/usr/local/bin/runitor --api-url=http://127.0.0.1:9/ping -ping-key k -slug db -create -- x");
        assert_eq!(c.monitor, "http://127.0.0.1:9/ping/k/db?create=1");
        assert_eq!(c.name.as_deref(), Some("db"));
        let from_env = convert(
            b"runitor -- x",
            &|v| (v == "CHECK_UUID").then(|| "u".into()),
            None,
        );
        assert!(matches!(from_env, Found::Converted(c) if c.monitor == "https://hc-ping.com/u"));
        assert!(matches!(
            nothing("runitor -every 5m -uuid u -- x"),
            Found::Kept(_)
        ));
        assert!(matches!(
            nothing("runitor -uuid u -- x && y"),
            Found::Kept(_)
        ));

        let c = converted("cronitor exec nightly /usr/bin/report --all '100\\%'");
        assert_eq!(c.command, b"/usr/bin/report --all 100\\%");
        assert_eq!(c.monitor, "https://cronitor.link/p/K/nightly");
        assert!(matches!(
            convert(b"cronitor exec k x", &|_| None, None),
            Found::Kept(why) if why.contains("--cronitor-api-key")
        ));
        assert!(matches!(nothing("cronitor exec k $HOME/x"), Found::Kept(_)));
    }
}
