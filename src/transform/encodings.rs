//! Encodings: the request survives intact for a model that decodes, while a
//! filter reading the surface sees noise. Each has its inverse here, so a
//! test can decode every variant back to its original.

use base64::Engine;

pub fn base64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

pub fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

pub fn rot13(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
            _ => c,
        })
        .collect()
}

/// Percent-encoding of every byte outside RFC 3986's unreserved set.
pub fn url(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every character as `\uXXXX` (UTF-16 code units, as JSON and JavaScript write them).
pub fn unicode_escapes(s: &str) -> String {
    s.encode_utf16().map(|u| format!("\\u{u:04x}")).collect()
}

const MORSE: &[(char, &str)] = &[
    ('a', ".-"),
    ('b', "-..."),
    ('c', "-.-."),
    ('d', "-.."),
    ('e', "."),
    ('f', "..-."),
    ('g', "--."),
    ('h', "...."),
    ('i', ".."),
    ('j', ".---"),
    ('k', "-.-"),
    ('l', ".-.."),
    ('m', "--"),
    ('n', "-."),
    ('o', "---"),
    ('p', ".--."),
    ('q', "--.-"),
    ('r', ".-."),
    ('s', "..."),
    ('t', "-"),
    ('u', "..-"),
    ('v', "...-"),
    ('w', ".--"),
    ('x', "-..-"),
    ('y', "-.--"),
    ('z', "--.."),
    ('0', "-----"),
    ('1', ".----"),
    ('2', "..---"),
    ('3', "...--"),
    ('4', "....-"),
    ('5', "....."),
    ('6', "-...."),
    ('7', "--..."),
    ('8', "---.."),
    ('9', "----."),
    ('.', ".-.-.-"),
    (',', "--..--"),
    ('?', "..--.."),
    ('\'', ".----."),
    ('!', "-.-.--"),
    ('/', "-..-."),
    ('(', "-.--."),
    (')', "-.--.-"),
    ('&', ".-..."),
    (':', "---..."),
    (';', "-.-.-."),
    ('=', "-...-"),
    ('+', ".-.-."),
    ('-', "-....-"),
    ('_', "..--.-"),
    ('"', ".-..-."),
    ('$', "...-..-"),
    ('@', ".--.-."),
];

/// International Morse: letters apart by a space, words by ` / `. A
/// character Morse has no code for is kept as it is (it is its own token).
pub fn morse(s: &str) -> String {
    s.split(' ')
        .map(|word| {
            word.chars()
                .flat_map(|c| c.to_lowercase())
                .map(|c| match MORSE.iter().find(|(m, _)| *m == c) {
                    Some((_, code)) => (*code).to_string(),
                    None => c.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The inverses, for the round-trip test (and for anyone checking a variant by hand).
pub mod decode {
    use base64::Engine;

    pub fn base64(s: &str) -> Option<String> {
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(s).ok()?).ok()
    }

    pub fn hex(s: &str) -> Option<String> {
        let bytes: Option<Vec<u8>> =
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect();
        String::from_utf8(bytes?).ok()
    }

    pub fn rot13(s: &str) -> String {
        super::rot13(s)
    }

    pub fn url(s: &str) -> Option<String> {
        let mut bytes = Vec::new();
        let mut rest = s.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            if b == b'%' {
                bytes.push(u8::from_str_radix(std::str::from_utf8(tail.get(..2)?).ok()?, 16).ok()?);
                rest = &tail[2..];
            } else {
                bytes.push(b);
                rest = tail;
            }
        }
        String::from_utf8(bytes).ok()
    }

    pub fn unicode_escapes(s: &str) -> Option<String> {
        let units: Option<Vec<u16>> = s.split("\\u").skip(1).map(|h| u16::from_str_radix(h, 16).ok()).collect();
        String::from_utf16(&units?).ok()
    }

    pub fn morse(s: &str) -> String {
        s.split(" / ")
            .map(|word| {
                word.split(' ')
                    .filter(|t| !t.is_empty())
                    .map(|t| match super::MORSE.iter().find(|(_, code)| *code == t) {
                        Some((c, _)) => c.to_string(),
                        None => t.to_string(),
                    })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}
