//! The table of `egov dlq list`, safe for a terminal.

use egov_runtime::dead_letter::{cut, DeadLetter, Origin};

/// Values longer than this are cut in the table of `egov dlq list`.
pub const MAX_SHOWN_BYTES: usize = 200;

/// The table of `egov dlq list`: one letter per two lines, every value from
/// the message made safe for a terminal ([`shown`]).
pub fn render_table(topic: &str, letters: &[DeadLetter]) -> String {
    let mut out = format!("{} dead letters in {}\n", letters.len(), shown(topic));
    for l in letters {
        let at = chrono::DateTime::from_timestamp_millis(l.dead_at_ms)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        let origin = l.origin.as_ref().map_or("?".to_owned(), Origin::to_string);
        let size = match l.truncated_from {
            Some(original) => format!("truncated, original {original} bytes"),
            None => format!("{} bytes", l.bytes),
        };
        out.push_str(&format!(
            "{}@{}  {}  {}  by {}  from {}  event {}  ({})\n    {}\n",
            l.partition,
            l.offset,
            at,
            shown(&l.reason),
            shown(if l.service.is_empty() {
                "?"
            } else {
                &l.service
            }),
            shown(&origin),
            shown(l.event_id.as_deref().unwrap_or("-")),
            size,
            shown(&l.detail),
        ));
    }
    out
}

/// `value` for a terminal: cut after [`MAX_SHOWN_BYTES`] (saying how many
/// bytes were cut), control and bidirectional-formatting characters escaped
/// (`\n`, `\x1b`, `\u{202e}`) and backslashes doubled, so nothing in a message
/// can move the cursor, recolour or reorder what the operator reads.
pub fn shown(value: &str) -> String {
    let kept = cut(value, MAX_SHOWN_BYTES);
    let mut out = String::with_capacity(kept.len() + 16);
    for c in kept.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_control_characters_and_cuts_long_values() {
        assert_eq!(
            shown("a\u{1b}[31mred\nnext\ttab\\"),
            "a\\x1b[31mred\\nnext\\ttab\\\\"
        );
        assert_eq!(shown("\u{202e}evil\u{85}"), "\\u{202e}evil\\u{85}");
        assert_eq!(shown("Xã Mới"), "Xã Mới");
        let long = "é".repeat(150); // 300 bytes
        let cut = shown(&long);
        assert!(cut.starts_with(&"é".repeat(100)), "{cut}");
        assert!(cut.ends_with("… (100 more bytes)"), "{cut}");
    }

    #[test]
    fn the_table_shows_letters_safely() {
        let letter = DeadLetter {
            partition: 1,
            offset: 5,
            reason: "not_json".into(),
            detail: "bad \u{1b}]0;title\u{7}".into(),
            service: "transform".into(),
            origin: Some(Origin {
                topic: "egov.raw.v1".into(),
                partition: 0,
                offset: 9,
            }),
            dead_at_ms: 0,
            event_id: Some("x".repeat(300)),
            bytes: 12,
            truncated_from: None,
            replayed_from: None,
        };
        let table = render_table("egov.dlq.v1", &[letter]);
        assert!(
            !table.chars().any(|c| c.is_control() && c != '\n'),
            "{table}"
        );
        assert!(table.contains("bad \\x1b]0;title\\x07"), "{table}");
        assert!(table.contains("(100 more bytes)"), "{table}");
        assert!(table.contains("from egov.raw.v1/0@9"), "{table}");
        assert_eq!(table.lines().count(), 3);
    }
}
