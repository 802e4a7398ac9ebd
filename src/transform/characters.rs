//! Character-level obfuscation: the same words to a reader (or a model),
//! different code points to a filter that matches the surface. Randomised
//! ones draw from the variant's own seed, never from shared state.

/// SplitMix64: small, fast, and the same sequence on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability one half.
    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

pub fn leetspeak(s: &str) -> String {
    s.chars()
        .map(|c| match c.to_ascii_lowercase() {
            'a' => '4',
            'e' => '3',
            'i' => '1',
            'o' => '0',
            's' => '5',
            't' => '7',
            _ => c,
        })
        .collect()
}

/// Cyrillic and Greek letters drawn like Latin ones.
const HOMOGLYPHS: &[(char, char)] = &[
    ('a', 'а'),
    ('c', 'с'),
    ('e', 'е'),
    ('i', 'і'),
    ('j', 'ј'),
    ('o', 'о'),
    ('p', 'р'),
    ('s', 'ѕ'),
    ('x', 'х'),
    ('y', 'у'),
    ('A', 'А'),
    ('B', 'В'),
    ('C', 'С'),
    ('E', 'Е'),
    ('H', 'Н'),
    ('I', 'І'),
    ('K', 'К'),
    ('M', 'М'),
    ('N', 'Ν'),
    ('O', 'О'),
    ('P', 'Р'),
    ('T', 'Т'),
    ('X', 'Х'),
    ('Y', 'Υ'),
];

/// The look-alike drawn like `c`, if it has one.
pub fn homoglyph_of(c: char) -> Option<char> {
    HOMOGLYPHS.iter().find(|(latin, _)| *latin == c).map(|(_, look_alike)| *look_alike)
}

/// Leetspeak's digit for `c`, if it has one.
pub fn leet_of(c: char) -> Option<char> {
    let digit = leetspeak(&c.to_string()).chars().next()?;
    (digit != c).then_some(digit)
}

/// About half of the letters that have a look-alike are swapped for it.
pub fn homoglyphs(s: &str, rng: &mut Rng) -> String {
    s.chars()
        .map(|c| match HOMOGLYPHS.iter().find(|(latin, _)| *latin == c) {
            Some((_, look_alike)) if rng.coin() => *look_alike,
            _ => c,
        })
        .collect()
}

/// A zero-width space between every two letters of a word.
pub fn zero_width(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 4);
    let mut previous_letter = false;
    for c in s.chars() {
        let letter = c.is_alphanumeric();
        if letter && previous_letter {
            out.push('\u{200B}');
        }
        out.push(c);
        previous_letter = letter;
    }
    out
}

/// The text as Unicode tag characters (U+E0000 + ASCII), invisible in most
/// renderers, behind a harmless visible greeting; characters outside ASCII
/// are kept as they are.
pub fn tag_characters(s: &str) -> String {
    let hidden: String =
        s.chars().map(|c| if c.is_ascii() { char::from_u32(0xE0000 + c as u32).unwrap_or(c) } else { c }).collect();
    format!("Hello!{hidden}")
}

/// ASCII as full-width forms (U+FF01–FF5E), the space as U+3000.
pub fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            ' ' => '\u{3000}',
            _ => c,
        })
        .collect()
}

/// Letters spaced out, words three spaces apart: `h o w   t o`.
pub fn spaced(s: &str) -> String {
    s.split(' ').map(|w| w.chars().map(|c| c.to_string()).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("   ")
}

pub fn random_case(s: &str, rng: &mut Rng) -> String {
    s.chars()
        .flat_map(|c| if rng.coin() { c.to_uppercase().collect::<Vec<_>>() } else { c.to_lowercase().collect() })
        .collect()
}

const MARKS: &[char] = &['\u{0301}', '\u{0300}', '\u{0308}', '\u{0303}', '\u{0327}', '\u{0302}'];

/// A combining mark after about half of the letters.
pub fn diacritics(s: &str, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        out.push(c);
        if c.is_alphabetic() && rng.coin() {
            out.push(MARKS[rng.below(MARKS.len())]);
        }
    }
    out
}

/// Inverses where one exists, for the round-trip test.
pub mod decode {
    pub fn tag_characters(s: &str) -> String {
        s.strip_prefix("Hello!")
            .unwrap_or(s)
            .chars()
            .map(|c| match c as u32 {
                0xE0000..=0xE007F => char::from_u32(c as u32 - 0xE0000).unwrap_or(c),
                _ => c,
            })
            .collect()
    }

    pub fn full_width(s: &str) -> String {
        s.chars()
            .map(|c| match c as u32 {
                0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
                0x3000 => ' ',
                _ => c,
            })
            .collect()
    }

    pub fn zero_width(s: &str) -> String {
        s.replace('\u{200B}', "")
    }
}
