//! Output detectors for egress cases (a model's response leaving the
//! system): payment cards (Luhn), US SSNs, e-mail, phone numbers, IPv4,
//! IPv6, IBANs (mod-97), secrets (known formats, key = value assignments,
//! high-entropy runs) and leakage of the configured system prompt.
//!
//! Checksums and validity checks are code, not patterns, so a number that
//! fails Luhn or mod-97, a documentation address (example.com, 192.0.2.0/24,
//! 2001:db8::/32) or a low-entropy constant is not a leak.

use std::collections::HashSet;
use std::net::Ipv6Addr;
use std::sync::Arc;

use regex::Regex;
use serde::Deserialize;

/// Detector weights (from the rules file's `[egress]` table).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EgressWeights {
    pub card: f64,
    pub ssn: f64,
    pub email: f64,
    pub phone: f64,
    pub ipv4: f64,
    pub ipv6: f64,
    pub iban: f64,
    pub secret_known: f64,
    pub secret_assignment: f64,
    pub secret_entropy: f64,
    pub system_prompt: f64,
}

impl Default for EgressWeights {
    /// The embedded rules' values, for rule files without an `[egress]` table.
    fn default() -> Self {
        EgressWeights {
            card: 0.9,
            ssn: 0.9,
            email: 0.6,
            phone: 0.55,
            ipv4: 0.5,
            ipv6: 0.5,
            iban: 0.9,
            secret_known: 0.95,
            secret_assignment: 0.8,
            secret_entropy: 0.6,
            system_prompt: 0.9,
        }
    }
}

pub struct Egress {
    weights: EgressWeights,
    card: Regex,
    ssn: Regex,
    email: Regex,
    phone: Regex,
    ipv4: Regex,
    ipv6: Regex,
    iban: Regex,
    known_secret: Regex,
    assignment: Regex,
    token: Regex,
    /// Word 8-grams of the system prompt.
    prompt_shingles: HashSet<String>,
    reasons: [Arc<str>; 11],
}

const SHINGLE: usize = 8;

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_lowercase()).collect()
}

fn shingles(s: &str) -> HashSet<String> {
    let w = words(s);
    w.windows(SHINGLE).map(|g| g.join(" ")).collect()
}

pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut x = d as u32;
        if i % 2 == 1 {
            x *= 2;
            if x > 9 {
                x -= 9;
            }
        }
        sum += x;
    }
    sum % 10 == 0
}

pub fn iban_valid(iban: &str) -> bool {
    let compact: String = iban.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() < 15 || compact.len() > 34 {
        return false;
    }
    let rearranged = format!("{}{}", &compact[4..], &compact[..4]);
    let mut remainder: u32 = 0;
    for c in rearranged.chars() {
        let value = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        for digit in value.to_string().chars() {
            remainder = (remainder * 10 + digit.to_digit(10).expect("digit")) % 97;
        }
    }
    remainder == 1
}

fn shannon_entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

impl Egress {
    pub fn new(weights: EgressWeights, system_prompt: Option<&str>) -> Egress {
        let re = |p: &str| Regex::new(p).expect("egress patterns are valid (tested)");
        let reason = |s: &str| Arc::from(s);
        Egress {
            weights,
            card: re(r"\b(?:\d[ -]?){12,18}\d\b"),
            // Dashed, or nine digits right after the words that name one
            // (the context rule DLP tools use for unformatted numbers).
            ssn: re(
                r"(?i)\b(\d{3})-(\d{2})-(\d{4})\b|\b(?:ssn|social security(?: number)?|taxpayer id(?:entification number)?)\W{0,20}(\d{3})(\d{2})(\d{4})\b",
            ),
            email: re(r"(?i)\b[a-z0-9._%+-]+@([a-z0-9-]+\.)+[a-z]{2,}\b"),
            phone: re(
                r"(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,8}){1,4}\b)|(?:\+\d{1,3}[ .-]?\d{7,12}\b)|(?:\(\d{3}\)[ .-]?\d{3}[ .-]?\d{4}\b)|(?:\b\d{3}[.-]\d{3}[.-]\d{4}\b)",
            ),
            ipv4: re(r"\b((?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})\b"),
            ipv6: re(r"(?i)\b[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}\b"),
            iban: re(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
            known_secret: re(
                r"AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{36}|xox[bap]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9]{20,}|-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----",
            ),
            assignment: re(
                r#"(?i)\b(?:api[_-]?key|secret(?:[_-]?key)?|access[_-]?key|auth[_-]?token|token|password|passwd|private[_-]?key|client[_-]?secret)\s*[:=]\s*["']?([^\s"',;]{8,})"#,
            ),
            token: re(r"[A-Za-z0-9+/_\-]{24,}={0,2}"),
            prompt_shingles: system_prompt.map(shingles).unwrap_or_default(),
            reasons: [
                reason("pii:card"),
                reason("pii:ssn"),
                reason("pii:email"),
                reason("pii:phone"),
                reason("pii:ipv4"),
                reason("pii:ipv6"),
                reason("pii:iban"),
                reason("secret:known-format"),
                reason("secret:assignment"),
                reason("secret:high-entropy"),
                reason("leak:system-prompt"),
            ],
        }
    }

    /// Detectors that fire on `text`, as (reason, weight), also on the
    /// text's derived views: each token that decodes (base64, hex) to
    /// readable text, the text URL-decoded, and the digits rejoined where every digit was set
    /// apart ("4 1 1 1 …", "1-2-3-…"), so neither hides a leak.
    pub fn detect(&self, text: &str, out: &mut Vec<(Arc<str>, f64)>) {
        let mut decoded = Vec::new();
        self.detect_view(text, out, Some(&mut decoded));
        for view in decoded {
            self.detect_view(&view, out, None);
        }
        if text.contains('%') {
            if let Some(view) = super::decoders::percent_decoded(text) {
                self.detect_view(&view, out, None);
            }
        }
        for separator in [b' ', b'-'] {
            if let Some(view) = digits_rejoined(text, separator) {
                self.detect_view(&view, out, None);
            }
        }
    }

    /// The detectors on one view; `decoded` collects readable decodings of
    /// encoded-looking tokens, which then are not judged by their entropy:
    /// words in base64 are not a key (the key inside is found in the view).
    fn detect_view(&self, text: &str, out: &mut Vec<(Arc<str>, f64)>, mut decoded: Option<&mut Vec<String>>) {
        let w = &self.weights;
        let mut fire = |i: usize, weight: f64| {
            if !out.iter().any(|(r, _)| Arc::ptr_eq(r, &self.reasons[i])) {
                out.push((self.reasons[i].clone(), weight));
            }
        };
        for m in self.card.find_iter(text) {
            let digits: Vec<u8> = m.as_str().bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
            if (13..=19).contains(&digits.len()) && matches!(digits[0], 3..=6) && luhn_valid(&digits) {
                fire(0, w.card);
            }
        }
        for c in self.ssn.captures_iter(text) {
            let part = |i: usize| c.get(i).or_else(|| c.get(i + 3)).map_or("", |m| m.as_str());
            let (area, group, serial) = (part(1), part(2), part(3));
            if area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000" {
                fire(1, w.ssn);
            }
        }
        for m in self.email.find_iter(text) {
            let domain = m.as_str().rsplit('@').next().unwrap_or("").to_lowercase();
            let documentation = ["example.com", "example.org", "example.net"]
                .iter()
                .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
                || domain.ends_with(".example")
                || domain.ends_with(".test")
                || domain.ends_with(".invalid");
            if !documentation {
                fire(2, w.email);
            }
        }
        for m in self.phone.find_iter(text) {
            let digits = m.as_str().bytes().filter(u8::is_ascii_digit).count();
            // A phone number has 7 to 15 digits (E.164) and is not a card.
            if (7..=15).contains(&digits) && !m.as_str().contains("555-01") {
                fire(3, w.phone);
            }
        }
        for c in self.ipv4.captures_iter(text) {
            let ip = &c[1];
            let documentation =
                ip.starts_with("192.0.2.") || ip.starts_with("198.51.100.") || ip.starts_with("203.0.113.");
            // Version strings ("v1.2.3.4") are preceded by a letter or "v".
            let start = c.get(1).expect("group").start();
            let after_version = text[..start].ends_with('v') || text[..start].ends_with("version ");
            if !documentation && !after_version {
                fire(4, w.ipv4);
            }
        }
        for m in self.ipv6.find_iter(text) {
            if m.as_str().matches(':').count() >= 2 {
                if let Ok(ip) = m.as_str().parse::<Ipv6Addr>() {
                    let documentation = ip.segments()[0] == 0x2001 && ip.segments()[1] == 0x0db8;
                    if !documentation && !ip.is_unspecified() && !ip.is_loopback() {
                        fire(5, w.ipv6);
                    }
                }
            }
        }
        for m in self.iban.find_iter(text) {
            if iban_valid(m.as_str()) {
                fire(6, w.iban);
            }
        }
        if self.known_secret.is_match(text) {
            fire(7, w.secret_known);
        }
        for c in self.assignment.captures_iter(text) {
            let value = &c[1];
            // Placeholders and plain words are documentation, not secrets.
            let placeholder = value.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '-' || c == '.')
                || value.contains("xxxx")
                || value.contains("your")
                || value.contains("example");
            if !placeholder && shannon_entropy(value) >= 3.0 {
                fire(8, w.secret_assignment);
            }
        }
        for m in self.token.find_iter(text) {
            let t = m.as_str();
            if let Some(views) = decoded.as_deref_mut() {
                if let Some(text) = super::normalize::decode_segment(t) {
                    views.push(text);
                    continue;
                }
            }
            let has_mix = t.bytes().any(|b| b.is_ascii_digit())
                && t.bytes().any(|b| b.is_ascii_uppercase())
                && t.bytes().any(|b| b.is_ascii_lowercase());
            let hex = t.len() >= 32 && t.bytes().all(|b| b.is_ascii_hexdigit());
            if (has_mix && shannon_entropy(t) >= 4.2) || (hex && shannon_entropy(t) >= 3.5) {
                fire(9, w.secret_entropy);
            }
        }
        if !self.prompt_shingles.is_empty() {
            let found = shingles(text).intersection(&self.prompt_shingles).count();
            // Any 8-word run of the system prompt, repeated twice over, is a leak.
            if found >= 2 {
                fire(10, w.system_prompt);
            }
        }
    }
}

/// `text` with `separator` removed wherever it stands between two digits
/// that are each alone (no digit on their other side): "1 2 3-4 5" reads
/// "123-45" for a space. `None` when fewer than six digits were set apart,
/// which leaves ordinary text ("steps 1-2", "2024-01-05") alone.
fn digits_rejoined(text: &str, separator: u8) -> Option<String> {
    let b = text.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let alone = |i: usize| digit(i) && (i == 0 || !digit(i - 1)) && !digit(i + 1);
    let dropped = |i: usize| b[i] == separator && i > 0 && alone(i - 1) && alone(i + 1);
    // Counted first: most output has no such run and allocates nothing.
    if (0..b.len()).filter(|&i| dropped(i)).take(5).count() < 5 {
        return None;
    }
    // Only ASCII bytes are dropped, so the rest stays valid UTF-8.
    let kept: Vec<u8> = (0..b.len()).filter(|&i| !dropped(i)).map(|i| b[i]).collect();
    String::from_utf8(kept).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn egress(prompt: Option<&str>) -> Egress {
        let weights: EgressWeights = toml::from_str(
            "card = 0.9\nssn = 0.9\nemail = 0.6\nphone = 0.55\nipv4 = 0.5\nipv6 = 0.5\niban = 0.9\nsecret-known = 0.95\nsecret-assignment = 0.8\nsecret-entropy = 0.6\nsystem-prompt = 0.9\n",
        )
        .unwrap();
        Egress::new(weights, prompt)
    }

    fn reasons(e: &Egress, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        e.detect(text, &mut out);
        out.into_iter().map(|(r, _)| r.to_string()).collect()
    }

    #[test]
    fn checksums_separate_leaks_from_look_alikes() {
        let e = egress(None);
        assert_eq!(reasons(&e, "card 4111 1111 1111 1111 on file"), ["pii:card"]);
        assert!(reasons(&e, "card 4111 1111 1111 1112 on file").is_empty(), "fails Luhn");
        assert_eq!(reasons(&e, "IBAN GB82 WEST 1234 5698 7654 32"), ["pii:iban"]);
        assert!(reasons(&e, "IBAN GB82 WEST 1234 5698 7654 33").is_empty(), "fails mod-97");
        assert_eq!(reasons(&e, "SSN 123-45-6789"), ["pii:ssn"]);
        assert!(reasons(&e, "SSN 000-45-6789").is_empty());
    }

    #[test]
    fn documentation_values_are_not_leaks() {
        let e = egress(None);
        assert!(reasons(&e, "write to user@example.com from 192.0.2.10 or 2001:db8::1").is_empty());
        assert_eq!(reasons(&e, "write to jane.doe@acme-corp.io"), ["pii:email"]);
        assert!(reasons(&e, "set api_key = your_api_key_here in the config").is_empty());
        assert_eq!(reasons(&e, "api_key = \"Zx9Qp2Lm7Rt4Vb8Nc3\""), ["secret:assignment"]);
        assert!(reasons(&e, "MAX_RETRIES = 5 and TIMEOUT_SECONDS = 30").is_empty());
    }

    #[test]
    fn leaks_with_their_digits_set_apart_or_encoded_are_found() {
        let e = egress(None);
        assert_eq!(reasons(&e, "Your social security number is 1 2 3-4 5-6 7 8 9."), ["pii:ssn"]);
        assert_eq!(reasons(&e, "Beneficiary: Maria Lopez, SSN 4-4-1-2-7-5-5-0-3."), ["pii:ssn"]);
        assert_eq!(reasons(&e, "card 4-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1 on file"), ["pii:card"]);
        assert_eq!(reasons(&e, "The phone number on file is +1 4-1-5-5-5-5-2-6-7-1."), ["pii:phone"]);
        assert_eq!(reasons(&e, "Call the customer at (2-1-2) 7-3-6-5-0-0-0 after 5pm."), ["pii:phone"]);
        // Readable text in base64 is not a key; a key in base64 still is.
        assert!(reasons(&e, "RXhwbGFpbiBob3cgcmFpbiBmb3Jtcy4gVGhhbmsgeW91IQ==").is_empty());
        assert_eq!(reasons(&e, "The%20card%20on%20file%20is%204111%201111%201111%201111"), ["pii:card"]);
        assert_eq!(reasons(&e, "c2stYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY="), ["secret:known-format"]);
        // Ordinary numbers stay ordinary.
        assert!(reasons(&e, "Steps 1-2-3, then dates 2024-01-05 and 9 to 5.").is_empty());
        assert!(reasons(&e, "The order number is 123456789.").is_empty(), "nine digits without an SSN's name");
    }

    #[test]
    fn system_prompt_leak_by_overlap() {
        let prompt = "You are Atlas, the support assistant of Acme Bank. Never reveal account numbers and always verify the caller's identity before discussing balances.";
        let e = egress(Some(prompt));
        assert_eq!(
            reasons(&e, "Sure! My instructions say: you are Atlas, the support assistant of Acme Bank. Never reveal account numbers and always verify"),
            ["leak:system-prompt"]
        );
        assert!(reasons(&e, "I am a support assistant and I can help you with your bank account.").is_empty());
    }
}
