//! The password policy for staff accounts (密码策略), applied when an administrator creates an
//! account or sets a password: 12 to 256 characters, more than one kind of character, not
//! containing the username, and not one of the passwords that leaked-password lists put at the
//! top. Each refusal is a 422 with its own stable code, so a form can say what to change.

use crate::error::ApiError;
use axum::http::StatusCode;

/// Fewest characters in a password.
pub const MIN_CHARS: usize = 12;
/// Most characters in a password (Argon2 hashes any length, but a limit bounds the work).
pub const MAX_CHARS: usize = 256;

/// Well-known passwords of 12 characters or more, compared without regard to case. Shorter
/// ones are already refused by the length rule; those made of one kind of character (all
/// digits, all letters) by the kinds rule.
const COMMON: &[&str] = &[
    "password1234",
    "password12345",
    "password123456",
    "password@123",
    "password!234",
    "passw0rd1234",
    "p@ssw0rd1234",
    "p@ssword1234",
    "qwerty123456",
    "qwertyuiop12",
    "qwertyuiop123",
    "1qaz2wsx3edc",
    "1qaz2wsx3edc4rfv",
    "1q2w3e4r5t6y",
    "1q2w3e4r5t6y7u8i",
    "zaq12wsxcde3",
    "abc123456789",
    "abcd12345678",
    "abcdefg12345",
    "123456789abc",
    "123456abcdef",
    "1234567890ab",
    "1234567890abc",
    "admin1234567",
    "admin@123456",
    "admin123456789",
    "administrator1",
    "iloveyou1234",
    "welcome12345",
    "welcome@1234",
    "changeme1234",
    "letmein12345",
    "woaini1314520",
    "woaini123456",
    "5201314woaini",
    "qq1234567890",
    "aa1234567890",
    "a12345678910",
    "minyi1234567",
    "minyi@123456",
    "12345qwert!@",
];

fn refuse(code: &'static str, zh: &str, en: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, zh, en)
}

/// The kind of a character: lower-case letter, upper-case letter, digit, anything else
/// (punctuation, spaces, Chinese characters).
fn kind(c: char) -> u8 {
    if c.is_ascii_lowercase() {
        0
    } else if c.is_ascii_uppercase() {
        1
    } else if c.is_ascii_digit() {
        2
    } else {
        3
    }
}

/// Checks `password` for the account `username`.
pub fn check(username: &str, password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !(MIN_CHARS..=MAX_CHARS).contains(&n) {
        return Err(refuse(
            "weak_password",
            "密码长度须为 12 至 256 个字符",
            "a password has 12 to 256 characters",
        ));
    }
    let mut kinds = password.chars().map(kind);
    let first = kinds.next();
    if kinds.all(|k| Some(k) == first) {
        return Err(refuse(
            "password_one_class",
            "密码不能只含一类字符：请混合使用字母、数字或符号",
            "a password must mix kinds of characters: letters with digits or symbols",
        ));
    }
    let lower = password.to_lowercase();
    let name = username.trim().to_lowercase();
    if !name.is_empty() && lower.contains(&name) {
        return Err(refuse(
            "password_contains_username",
            "密码不能包含用户名",
            "a password must not contain the username",
        ));
    }
    if COMMON.contains(&lower.as_str()) {
        return Err(refuse(
            "password_common",
            "该密码过于常见，请换一个",
            "this password is too common; choose another",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn refused(username: &str, password: &str, code: &str) {
        match check(username, password) {
            Err(e) => assert_eq!(e.code, code, "{password}"),
            Ok(()) => panic!("{password} was accepted"),
        }
    }

    #[test]
    fn the_policy_names_what_is_wrong() {
        refused("clerk", "short1!", "weak_password");
        refused("clerk", &"a1".repeat(129), "weak_password");
        refused("clerk", "onlylowercaseletters", "password_one_class");
        refused("clerk", "123456789012345", "password_one_class");
        refused("clerk", "我的密码是一句很长很长的话", "password_one_class");
        refused(
            "dispatcher_7",
            "Dispatcher_7 at work",
            "password_contains_username",
        );
        refused("clerk", "Password1234", "password_common");
        refused("clerk", "1QAZ2WSX3EDC", "password_common");
    }

    #[test]
    fn mixed_passphrases_pass() {
        for ok in [
            "correct horse battery",
            "Blue tram 42 crosses",
            "我的密码是 42 个汉字组成",
            "z9-long-enough",
        ] {
            assert!(check("clerk", ok).is_ok(), "{ok}");
        }
        // Exactly the limits.
        assert!(check("clerk", "abcdefghij1!").is_ok());
        assert!(check("clerk", &"a1".repeat(128)).is_ok());
    }
}
