//! Property tests for the parsers and buffers that take untrusted input: no panic, every error a clear message.

use crate::harness::library::{parse_duration, parse_monitor, parse_size, ConfigFile, Tail};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn tail_keeps_exactly_the_last_bytes(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..40), cap in 0usize..1000) {
        let mut tail = Tail::new(cap);
        let mut all = Vec::new();
        for chunk in &chunks {
            tail.push(chunk);
            all.extend_from_slice(chunk);
        }
        prop_assert_eq!(tail.total_seen(), all.len() as u64);
        let kept = tail.into_contents();
        let expected = &all[all.len().saturating_sub(cap)..];
        prop_assert_eq!(kept.as_slice(), expected);
    }

    #[test]
    fn durations_parse_or_explain(text in "\\PC{0,24}") {
        match parse_duration(&text) {
            Ok(_) => {}
            Err(message) => {
                prop_assert!(!message.contains('\n'));
                prop_assert!(message.contains("duration"), "{}", message);
            }
        }
    }

    #[test]
    fn written_durations_round_trip(secs in 0u64..10_000_000) {
        let text = humantime::format_duration(std::time::Duration::from_secs(secs)).to_string();
        prop_assert_eq!(parse_duration(&text).unwrap().get().as_secs(), secs);
        prop_assert_eq!(parse_duration(&secs.to_string()).unwrap().get().as_secs(), secs);
    }

    #[test]
    fn sizes_parse_or_explain(text in "\\PC{0,24}") {
        match parse_size(&text) {
            Ok(_) => {}
            Err(message) => {
                prop_assert!(!message.contains('\n'));
                prop_assert!(message.contains("size"), "{}", message);
            }
        }
    }

    #[test]
    fn sizes_with_suffixes(n in 0u64..1_000_000, suffix in prop::sample::select(vec!["", "K", "KiB", "M", "MiB"])) {
        let factor = match suffix { "" => 1, "K" | "KiB" => 1024, _ => 1 << 20 };
        prop_assert_eq!(parse_size(&format!("{n}{suffix}")).unwrap(), n * factor);
    }

    #[test]
    fn any_ping_spec_is_classified_or_rejected_without_leaking(secret in "[a-zA-Z0-9]{12,20}", junk in "[a-z][a-zA-Z0-9 .@?#%&=_~é-]{0,29}") {
        let specs = [
            format!("https://hc-ping.com/{secret}"),
            format!("{junk}/{secret}"),
            format!("hc+{junk}{secret}"),
            format!("http://{junk}/{secret}"),
        ];
        for spec in specs {
            match parse_monitor(&spec) {
                Ok(protocol) => prop_assert!(!protocol.target().contains(&secret)),
                Err(message) => {
                    prop_assert!(!message.contains('\n'));
                    prop_assert!(!message.contains(&secret), "{}", message);
                }
            }
        }
    }
}

/// Fragments a config file is made of, right and wrong, to stitch into random files.
fn config_fragment() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "[defaults]",
        "[jobs.backup]",
        "[jobs.\"odd name\"]",
        "[jobs]",
        "[nonsense]",
        "timeout = \"5m\"",
        "timeout = \"5 parsecs\"",
        "timeout = 30",
        "tail = \"10K\"",
        "tail = -1",
        "command = [\"/bin/true\"]",
        "command = []",
        "command = \"true\"",
        "ping = \"https://hc-ping.com/x\"",
        "ping = [\"hc+https://h/x\", 3]",
        "quiet = true",
        "quiet = \"yes\"",
        "unknown_key = 1",
        "log_format = \"xml\"",
        "success_codes = \"0,3\"",
        "overlap = \"sometimes\"",
        "= broken",
        "\"unterminated",
        "[[jobs.backup]]",
    ])
    .prop_map(str::to_string)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn config_files_load_or_explain_in_one_line(lines in proptest::collection::vec(config_fragment(), 0..12), junk in "\\PC{0,40}") {
        let path = std::path::Path::new("/etc/cronbeat.toml");
        for text in [lines.join("\n"), format!("{}\n{junk}", lines.join("\n"))] {
            match ConfigFile::parse(path, text.clone()) {
                Ok(file) => {
                    // A job's own error stays in that job, and is one line naming the file too.
                    for name in file.jobs.keys() {
                        if let Err(message) = file.job(name) {
                            prop_assert!(!message.contains('\n'), "{:?}", message);
                            prop_assert!(message.starts_with("/etc/cronbeat.toml"), "{}", message);
                        }
                    }
                    let missing = file.job("no-such-job").unwrap_err();
                    prop_assert!(missing.contains("/etc/cronbeat.toml"), "{}", missing);
                }
                Err(message) => {
                    prop_assert!(!message.contains('\n'), "{:?}", message);
                    prop_assert!(message.starts_with("/etc/cronbeat.toml"), "{}", message);
                }
            }
        }
    }
}
