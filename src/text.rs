//! Making hostile text inert for display.
//!
//! Case text is attacker-controlled. Each output format has its own escaping
//! (tera's HTML escaping, XML escaping in JUnit, Markdown below); the
//! terminal needs control characters neutralised, or an ANSI/OSC sequence in
//! a prompt could rewrite the screen or a bidi override could hide text.

/// Longest case text carried in a report or fixture outcome, in characters.
pub const CASE_TEXT_CAP: usize = 2000;

/// Replaces control, bidi and zero-width characters with visible escapes.
pub fn terminal_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_dangerous(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that change how surrounding text displays.
pub fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}')
}

/// Shortens to at most `max` characters, saying so.
pub fn truncate_chars(s: &str, max: usize) -> (String, bool) {
    match s.char_indices().nth(max) {
        Some((i, _)) => (s[..i].to_string(), true),
        None => (s.to_string(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralises_escape_sequences_and_bidi() {
        let s = terminal_safe("a\x1b[31mred\u{202E}evil\u{200B}\n");
        assert!(!s.chars().any(is_dangerous), "{s}");
        assert_eq!(s, "a\\u{1b}[31mred\\u{202e}evil\\u{200b}\\u{a}");
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate_chars("héllo", 2), ("hé".to_string(), true));
        assert_eq!(truncate_chars("hi", 5), ("hi".to_string(), false));
    }
}
