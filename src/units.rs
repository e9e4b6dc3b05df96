//! Parsers for the human units on the command line and in the config file: durations and byte sizes.

use std::fmt;
use std::str::FromStr;

/// A duration written the human way (`90s`, `5m`, `1h 30m`); a bare number means seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_duration(s)
    }
}

/// In the config file a duration is a string (`"90s"`) or, as on the command line, a bare number of seconds.
impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"90s\" or a number of seconds")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Duration, E> {
                parse_duration(&n.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Duration, E> {
                parse_duration(&n.to_string()).map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Duration, E> {
                parse_duration(&n.to_string()).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Duration, E> {
                parse_duration(text).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A count in the config file: a number, or a string holding one, as on the command line.
pub fn count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = Option<u32>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Option<u32>, E> {
            u32::try_from(n)
                .map(Some)
                .map_err(|_| E::custom(format!("invalid number {n}: expected 0 or more")))
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Option<u32>, E> {
            u32::try_from(n)
                .map(Some)
                .map_err(|_| E::custom(format!("invalid number {n}: too large")))
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Option<u32>, E> {
            text.trim().parse::<u32>().map(Some).map_err(|_| {
                E::custom(format!(
                    "invalid number {text:?}: expected a whole number such as 3"
                ))
            })
        }
    }
    d.deserialize_any(Visitor)
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration (expected e.g. 90s, 5m, 1h 30m)".into());
    }
    if let Ok(secs) = trimmed.parse::<u64>() {
        return Ok(Duration(std::time::Duration::from_secs(secs)));
    }
    if let Ok(secs) = trimmed.parse::<f64>() {
        if secs.is_finite() && (0.0..1e12).contains(&secs) {
            return Ok(Duration(std::time::Duration::from_secs_f64(secs)));
        }
    }
    humantime::parse_duration(trimmed)
        .map(Duration)
        .map_err(|e| format!("invalid duration {text:?}: {e} (expected e.g. 90s, 5m, 1h 30m)"))
}

/// A secret such as an API key: its value is never shown, not even by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Takes any text: the check comes later (`check`), where an error can name the key without
    /// showing the value, as a parse error of clap or serde would.
    pub fn accept(text: &str) -> Result<Secret, String> {
        Ok(Secret::new(text))
    }

    pub fn new(text: &str) -> Secret {
        Secret(text.trim().to_string())
    }

    /// Whether the secret can be sent; the error never contains it.
    pub fn check(&self) -> Result<(), String> {
        if self.0.is_empty() {
            return Err("is empty".into());
        }
        if !self.0.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("holds blanks or characters an HTTP header cannot carry".into());
        }
        Ok(())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Secret::accept(&text).map_err(serde::de::Error::custom)
    }
}

/// A byte count: `10240`, `10K`, `10KiB`, `1M`, `1MiB` (K and M are binary multiples here, as `head -c` reads them).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, suffix) = trimmed.split_at(split);
    let bad = || format!("invalid size {text:?} (expected bytes, e.g. 10240, 10K, 1MiB)");
    if digits.is_empty() {
        return Err(bad());
    }
    let value: u64 = digits.parse().map_err(|_| bad())?;
    let multiplier: u64 = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    value.checked_mul(multiplier).ok_or_else(bad)
}

/// A size: a number of bytes on the command line or in the config file, or a string such as "10K".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl Size {
    pub fn parse(text: &str) -> Result<Size, String> {
        parse_size(text).map(Size)
    }
}

impl<'de> serde::Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of bytes or a size such as \"10K\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Size, E> {
                Ok(Size(n))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Size, E> {
                u64::try_from(n)
                    .map(Size)
                    .map_err(|_| E::custom(format!("invalid size {n}: must not be negative")))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Size, E> {
                parse_size(text).map(Size).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Exit statuses that count as success, written `0,3` or with ranges `0,10-12`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitCodes(pub Vec<i32>);

impl<'de> serde::Deserialize<'de> for ExitCodes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(i64),
            Many(Vec<i64>),
            Text(String),
        }
        let numbers = match Raw::deserialize(d)? {
            Raw::Text(t) => return parse_exit_codes(&t).map_err(serde::de::Error::custom),
            Raw::One(n) => vec![n],
            Raw::Many(v) => v,
        };
        numbers
            .into_iter()
            .map(|n| exit_code(&n.to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map(ExitCodes)
            .map_err(serde::de::Error::custom)
    }
}

pub fn parse_exit_codes(text: &str) -> Result<ExitCodes, String> {
    let mut codes = Vec::new();
    for part in text.split(',').map(str::trim) {
        match part.split_once('-') {
            Some((low, high)) => {
                let (low, high) = (exit_code(low)?, exit_code(high)?);
                if low > high {
                    return Err(format!("invalid exit status range {part:?}"));
                }
                codes.extend(low..=high);
            }
            None => codes.push(exit_code(part)?),
        }
    }
    codes.sort_unstable();
    codes.dedup();
    Ok(ExitCodes(codes))
}

fn exit_code(text: &str) -> Result<i32, String> {
    text.trim()
        .parse::<u8>()
        .map(i32::from)
        .map_err(|_| format!("invalid exit status {text:?} (expected 0-255, e.g. 0,3 or 0,10-12)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap().0.as_secs(), 90);
        assert_eq!(parse_duration("1h 30m").unwrap().0.as_secs(), 5400);
        assert_eq!(parse_duration("15").unwrap().0.as_secs(), 15);
        assert_eq!(parse_duration("0.5").unwrap().0.as_millis(), 500);
        assert!(parse_duration("5 parsecs")
            .unwrap_err()
            .contains("5 parsecs"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-3").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10240").unwrap(), 10240);
        assert_eq!(parse_size("10K").unwrap(), 10240);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("0").unwrap(), 0);
        assert!(parse_size("ten").unwrap_err().contains("ten"));
        assert!(parse_size("5X").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn exit_codes() {
        assert_eq!(parse_exit_codes("0,3").unwrap().0, vec![0, 3]);
        assert_eq!(parse_exit_codes(" 3, 0-2 ").unwrap().0, vec![0, 1, 2, 3]);
        assert!(parse_exit_codes("256").unwrap_err().contains("256"));
        assert!(parse_exit_codes("0,").is_err());
        assert!(parse_exit_codes("5-1").is_err());
        assert!(parse_exit_codes("-1").is_err());
    }
}
