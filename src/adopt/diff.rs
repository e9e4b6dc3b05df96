//! The unified diff of one source, as `diff -u` writes it. adopt changes lines in place, so two texts of
//! the same number of lines are compared line by line; any other pair (a drop-in that is new) is shown
//! whole.

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// `--- old_label` / `+++ new_label` and the hunks; empty when the texts are the same. `show` turns a
/// line into what is printed (secrets redacted).
pub fn unified(
    old_label: &str,
    new_label: &str,
    old: &[u8],
    new: &[u8],
    show: &dyn Fn(&[u8]) -> String,
) -> String {
    if old == new {
        return String::new();
    }
    let split = |text: &[u8]| -> Vec<Vec<u8>> {
        if text.is_empty() {
            return Vec::new();
        }
        let body = text.strip_suffix(b"\n").unwrap_or(text);
        body.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
    };
    let (a, b) = (split(old), split(new));
    let mut out = format!("--- {old_label}\n+++ {new_label}\n");
    if a.len() != b.len() {
        out.push_str(&hunk_header(0, a.len(), 0, b.len()));
        for line in &a {
            out.push_str(&format!("-{}\n", show(line)));
        }
        for line in &b {
            out.push_str(&format!("+{}\n", show(line)));
        }
        return out;
    }
    let changed: Vec<usize> = (0..a.len()).filter(|i| a[*i] != b[*i]).collect();
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for &i in &changed {
        let start = i.saturating_sub(CONTEXT);
        let end = (i + CONTEXT + 1).min(a.len());
        match groups.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => groups.push((start, end)),
        }
    }
    for (start, end) in groups {
        out.push_str(&hunk_header(start, end - start, start, end - start));
        for i in start..end {
            if a[i] == b[i] {
                out.push_str(&format!(" {}\n", show(&a[i])));
            } else {
                out.push_str(&format!("-{}\n", show(&a[i])));
                out.push_str(&format!("+{}\n", show(&b[i])));
            }
        }
    }
    out
}

fn range(start: usize, count: usize) -> String {
    match count {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        n => format!("{},{n}", start + 1),
    }
}

fn hunk_header(a_start: usize, a_count: usize, b_start: usize, b_count: usize) -> String {
    format!(
        "@@ -{} +{} @@\n",
        range(a_start, a_count),
        range(b_start, b_count)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(line: &[u8]) -> String {
        String::from_utf8_lossy(line).into_owned()
    }

    #[test]
    fn hunks_as_diff_writes_them() {
        let old = b"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n";
        let new = b"a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nK\nl\n";
        assert_eq!(
            unified("x", "x (adopted)", old, new, &show),
            "--- x\n+++ x (adopted)\n@@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n d\n e\n@@ -8,5 +8,5 @@\n h\n i\n j\n-k\n+K\n l\n"
        );
        // Changes six lines apart share a hunk, as diff -u prints them.
        let merged = unified(
            "x",
            "y",
            b"a\nb\nc\nd\ne\nf\ng\nh\n",
            b"A\nb\nc\nd\ne\nf\ng\nH\n",
            &show,
        );
        assert_eq!(merged.matches("@@ -").count(), 1);
        assert_eq!(unified("x", "y", b"same\n", b"same\n", &show), "");
        assert_eq!(
            unified("/dev/null", "f", b"", b"[Service]\n", &show),
            "--- /dev/null\n+++ f\n@@ -0,0 +1 @@\n+[Service]\n"
        );
    }
}
