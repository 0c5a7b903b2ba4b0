//! Text from sources as people are shown it.
//!
//! Imported values can hold anything a file can: terminal escape sequences that recolour or
//! rewrite what a terminal shows, a bell, carriage returns that print over a line, and the
//! Unicode bidirectional controls that make text display in another order than it is stored
//! (`U+202E` turns `gnp.exe` into what looks like `exe.png`). Shown to a person — in a
//! terminal, an error message, a report — such characters are written visibly escaped instead,
//! so that what is seen is what is stored. Data written for programs (JSON) keeps them exact.

use std::borrow::Cow;

/// Whether a character is shown escaped: C0 and C1 controls (also tab, line feed and carriage
/// return), DEL, the bidirectional formatting characters (`U+061C`, `U+200E`, `U+200F`,
/// `U+202A`–`U+202E`, `U+2066`–`U+2069`) and the Unicode line and paragraph separators.
pub fn is_hidden_control(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

/// Text with every [hidden control](is_hidden_control) written visibly, as Rust writes it in
/// a string: `\t`, `\n`, `\r`, and `\u{1b}` for the others. Text without them is returned as
/// it is, without a copy.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if is_hidden_control(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_escaped() {
        for (text, shown) in [
            ("Ada Lovelace", "Ada Lovelace"),
            ("DOMAIN\\ada", "DOMAIN\\ada"),
            ("Zoë 李 🙂", "Zoë 李 🙂"),
            ("\u{1b}[31mred\u{1b}[0m", "\\u{1b}[31mred\\u{1b}[0m"),
            ("bell\u{7}", "bell\\u{7}"),
            ("a\tb\nc\rd", "a\\tb\\nc\\rd"),
            ("nul\u{0}", "nul\\u{0}"),
            ("gnp\u{202e}.exe", "gnp\\u{202e}.exe"),
            ("\u{2066}x\u{2069}", "\\u{2066}x\\u{2069}"),
            ("c1\u{9b}2J", "c1\\u{9b}2J"),
            ("del\u{7f}", "del\\u{7f}"),
            ("line\u{2028}sep", "line\\u{2028}sep"),
        ] {
            assert_eq!(visible(text), shown, "{text:?}");
        }
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
    }
}
