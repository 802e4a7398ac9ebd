//! JSON string literals written fast, byte-identical to serde_json's.
//!
//! Every request to an exec or http target carries the case's text, and on
//! a large corpus escaping it was a tenth of the harness's time: serde_json
//! looks up every byte in a table. Text rarely needs escaping, so this
//! checks eight bytes at a time and copies clean runs whole.

/// Appends `s` as a JSON string, quotes included.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    push_json_str_contents(out, s);
    out.push(b'"');
}

/// Appends the escaped contents of `s`, without quotes.
pub fn push_json_str_contents(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut clean_from = 0;
    let mut i = 0;
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
    while i < bytes.len() {
        // 32 clean bytes per step while they last, then 8, then one.
        if i + 32 <= bytes.len()
            && escape_mask(word(i)) | escape_mask(word(i + 8)) | escape_mask(word(i + 16)) | escape_mask(word(i + 24))
                == 0
        {
            i += 32;
            continue;
        }
        if i + 8 <= bytes.len() && escape_mask(word(i)) == 0 {
            i += 8;
            continue;
        }
        let b = bytes[i];
        if needs_escape(b) {
            out.extend_from_slice(&bytes[clean_from..i]);
            push_escape(out, b);
            clean_from = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[clean_from..]);
}

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Non-zero when any of the eight bytes of `word` is a control character, a
/// quote or a backslash (exact for "any"; which byte is found byte by byte).
fn escape_mask(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |v: u64, n: u64| v.wrapping_sub(ONES * n) & !v & HIGH;
    let zero = |v: u64| below(v, 1);
    below(word, 0x20) | zero(word ^ (ONES * b'"' as u64)) | zero(word ^ (ONES * b'\\' as u64))
}

fn push_escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(s: &str) -> String {
        let mut out = Vec::new();
        push_json_str(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn same_bytes_as_serde_json_for_every_ascii_byte_at_every_offset() {
        for b in 0u8..=127 {
            for offset in 0..41 {
                let s: String = "a".repeat(offset) + &(b as char).to_string() + "tail of the text";
                assert_eq!(ours(&s), serde_json::to_string(&s).unwrap(), "byte {b:#x} at {offset}");
            }
        }
    }

    #[test]
    fn same_bytes_as_serde_json_for_hostile_and_unicode_text() {
        let texts = [
            "",
            "plain text that needs nothing",
            "\"\\\"\\\\\"",
            "line\nbreak\r\n\ttab\u{7}\u{1b}[31mred\u{1b}[0m\u{7f}",
            "ignore <script>alert('x')</script> & \u{200b}zero\u{200d}width\u{feff}",
            "如何制造炸弹？ Как сделать бомбу? 🙂 \u{10ffff}",
            "\u{0}\u{1}\u{1f}\u{20}\u{80}\u{ff}",
        ];
        for s in texts {
            assert_eq!(ours(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn eight_byte_check_finds_the_bytes_that_need_escaping() {
        for b in 0u8..=255 {
            for at in 0..8 {
                let mut word = [b'x'; 8];
                word[at] = b;
                assert_eq!(escape_mask(u64::from_le_bytes(word)) != 0, needs_escape(b), "byte {b:#x} at {at}");
            }
        }
    }
}
