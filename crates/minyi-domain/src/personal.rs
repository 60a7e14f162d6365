//! Personal data (个人信息) of requesters and the public tracking code.
//!
//! Names, phone numbers and addresses are parsed at the edge into types that mask themselves by
//! default: their `Display` and `Debug` show the masked form, so that a log line or an error
//! message never carries the real value by accident. The clear value is only reached through an
//! explicit `reveal()` call, which is easy to search for.

use serde::{Deserialize, Serialize};

/// Why a piece of personal data or a tracking code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonalError {
    #[error(
        "phone number must be a mainland mobile (11 digits starting 1) or a landline with area code"
    )]
    BadPhone,
    #[error("name must be 1 to 40 characters with no control characters")]
    BadName,
    #[error("tracking code must be 11 characters from the tracking alphabet")]
    BadTrackingCodeShape,
    #[error("tracking code check character does not match (typo?)")]
    BadTrackingCodeCheck,
}

/// A phone number (联系电话), digits only.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Accepts a mainland mobile number (`13812345678`, optionally `+86`) or a landline with its
    /// area code (`0755-88886666`); spaces and hyphens are ignored.
    pub fn parse(input: &str) -> Result<Self, PersonalError> {
        let mut digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if let Some(rest) = digits.strip_prefix("+86") {
            digits = rest.to_string();
        }
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(PersonalError::BadPhone);
        }
        let b = digits.as_bytes();
        let mobile = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
        let landline = (10..=12).contains(&b.len()) && b[0] == b'0';
        if mobile || landline {
            Ok(Self(digits))
        } else {
            Err(PersonalError::BadPhone)
        }
    }

    /// The clear number, for the roles that need to call the requester.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// The masked form: `138****5678`.
    pub fn masked(&self) -> String {
        mask_middle(&self.0, 3, 4)
    }

    /// The last four digits, which a requester types to prove who they are when tracking.
    pub fn last_four(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

/// A requester's name (姓名) or an enterprise's contact name.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    /// Trims and checks length (1 to 40 characters) and the absence of control characters.
    pub fn parse(input: &str) -> Result<Self, PersonalError> {
        let name = input.trim();
        let n = name.chars().count();
        if n == 0 || n > 40 || name.chars().any(char::is_control) {
            return Err(PersonalError::BadName);
        }
        Ok(Self(name.to_string()))
    }

    /// The clear name.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// The masked form: the first character and one `*` per remaining one (`张*`, `欧阳**`
    /// becomes `欧**`).
    pub fn masked(&self) -> String {
        let mut chars = self.0.chars();
        let first = chars.next().map(String::from).unwrap_or_default();
        first + &"*".repeat(chars.count().max(1))
    }
}

/// Masks an address: keeps the first `keep` characters (district and street) and hides the rest.
pub fn mask_address(address: &str, keep: usize) -> String {
    let n = address.chars().count();
    if n <= keep {
        return address.to_string();
    }
    address.chars().take(keep).collect::<String>() + "****"
}

fn mask_middle(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

impl std::fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}
impl std::fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}
impl std::fmt::Debug for PersonName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PersonName({})", self.masked())
    }
}
impl std::fmt::Display for PersonName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

/// The tracking code (查询码) a requester gets back: 10 random characters and a check character
/// from an alphabet without look-alikes (no 0, 1, I, L, O). 31^10 ≈ 8·10^14 codes make guessing
/// hopeless at any rate limit; the check character catches a mistyped code without a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrackingCode(String);

impl TrackingCode {
    /// The 31 characters a code is made of.
    pub const ALPHABET: &'static [u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    /// Random characters in a code.
    pub const RANDOM_LEN: usize = 10;

    /// Builds a code from entropy supplied by the caller (the domain draws no randomness itself).
    pub fn from_entropy(entropy: [u8; 16]) -> Self {
        let mut value = u128::from_le_bytes(entropy);
        let mut body = Vec::with_capacity(Self::RANDOM_LEN + 1);
        for _ in 0..Self::RANDOM_LEN {
            body.push(Self::ALPHABET[(value % 31) as usize]);
            value /= 31;
        }
        body.push(Self::check_char(&body));
        Self(String::from_utf8_lossy(&body).into_owned())
    }

    /// Parses a code typed by a person: case, spaces and hyphens do not matter.
    pub fn parse(input: &str) -> Result<Self, PersonalError> {
        let code: Vec<u8> = input
            .bytes()
            .filter(|b| !matches!(b, b' ' | b'-'))
            .map(|b| b.to_ascii_uppercase())
            .collect();
        if code.len() != Self::RANDOM_LEN + 1 || !code.iter().all(|b| Self::ALPHABET.contains(b)) {
            return Err(PersonalError::BadTrackingCodeShape);
        }
        let (body, check) = code.split_at(Self::RANDOM_LEN);
        if Self::check_char(body) != check[0] {
            return Err(PersonalError::BadTrackingCodeCheck);
        }
        Ok(Self(String::from_utf8_lossy(&code).into_owned()))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Weighted sum modulo the alphabet size; position weights catch swaps of neighbours.
    fn check_char(body: &[u8]) -> u8 {
        let sum: usize = body
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let v = Self::ALPHABET.iter().position(|a| a == b).unwrap_or(0);
                v * (i + 1)
            })
            .sum();
        Self::ALPHABET[sum % 31]
    }
}

impl std::fmt::Display for TrackingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_parsed_and_masked() {
        let p = PhoneNumber::parse("+86 138-1234-5678").unwrap();
        assert_eq!(p.reveal(), "13812345678");
        assert_eq!(p.to_string(), "138****5678");
        assert_eq!(format!("{p:?}"), "PhoneNumber(138****5678)");
        assert_eq!(p.last_four(), "5678");
        assert!(PhoneNumber::parse("0755-88886666").is_ok());
        for bad in ["12345", "23812345678", "1381234567a", "", "10086"] {
            assert_eq!(
                PhoneNumber::parse(bad),
                Err(PersonalError::BadPhone),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_are_masked_after_the_first_character() {
        assert_eq!(PersonName::parse(" 张三 ").unwrap().masked(), "张*");
        assert_eq!(PersonName::parse("欧阳娜娜").unwrap().masked(), "欧***");
        assert_eq!(PersonName::parse("李").unwrap().masked(), "李*");
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse("a\u{7}b").is_err());
    }

    #[test]
    fn addresses_keep_their_district_only() {
        assert_eq!(
            mask_address("福田区华富街道莲花一村12栋", 7),
            "福田区华富街道****"
        );
        assert_eq!(mask_address("福田区", 7), "福田区");
    }

    #[test]
    fn tracking_codes_round_trip_and_catch_typos() {
        let code = TrackingCode::from_entropy([7u8; 16]);
        assert_eq!(code.as_str().len(), 11);
        let typed = code.as_str().to_ascii_lowercase();
        assert_eq!(TrackingCode::parse(&typed).unwrap(), code);
        // Change one character: the check catches it.
        let mut chars: Vec<char> = code.as_str().chars().collect();
        chars[3] = if chars[3] == 'A' { 'B' } else { 'A' };
        let typo: String = chars.into_iter().collect();
        assert_eq!(
            TrackingCode::parse(&typo),
            Err(PersonalError::BadTrackingCodeCheck)
        );
        assert_eq!(
            TrackingCode::parse("O0O0O0O0O0O"),
            Err(PersonalError::BadTrackingCodeShape)
        );
    }
}
