//! Sizes as people write them: `100M`, `1G`, `512k`, `4096`.

/// A size we refuse; the message quotes the text as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size {text:?}: {why}")]
pub struct SizeError {
    pub text: String,
    pub why: String,
}

/// Parses a byte size. Suffixes are binary (k = 1024), case-insensitive, with an
/// optional `B`/`iB`: `512k`, `100M`, `1GiB`, `4096`.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let refuse = |why: String| SizeError {
        text: text.to_string(),
        why,
    };
    let t = text.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(digits_end);
    if num.is_empty() {
        return Err(refuse(
            "expected a number with an optional k/M/G suffix, e.g. 100M".to_string(),
        ));
    }
    let n: u64 = num
        .parse()
        .map_err(|_| refuse("number too large".to_string()))?;
    let mult: u64 = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => {
            return Err(refuse(format!(
                "unknown suffix {suffix:?} (use k, M, G or T)"
            )));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| refuse("too large".to_string()))
}

/// Formats bytes for people: `32 MiB`, `1.5 GiB`, `512 B`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 || (v.fract() < 0.05) {
        format!("{:.0} {}", v, UNITS[i])
    } else {
        format!("{:.1} {}", v, UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("512k").unwrap(), 512 * 1024);
        assert_eq!(parse_size("100M").unwrap(), 100 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("32MiB").unwrap(), 32 << 20);
        assert_eq!(parse_size("2gb").unwrap(), 2 << 30);
    }

    #[test]
    fn bad_sizes_name_the_value() {
        for bad in ["", "M", "12Q", "-5M", "1.5G", "99999999999999999999"] {
            let e = parse_size(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(format_size(32 << 20), "32 MiB");
        assert_eq!(format_size(512), "512 B");
        assert_eq!(format_size(3 << 29), "1.5 GiB");
    }
}
