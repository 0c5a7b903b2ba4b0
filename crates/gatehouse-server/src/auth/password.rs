//! Passwords: Argon2id hashes (the crate's recommended parameters), random one-time
//! passwords and recovery codes.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::auth::random_bytes;

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 12;

/// Hashes a password with Argon2id and a random salt, in PHC string form.
pub fn hash(password: &str) -> Result<String, String> {
    let salt = random_bytes::<16>();
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether a password matches a PHC string.
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// A hash to verify against when the user does not exist, so that an unknown name takes as
/// long to refuse as a wrong password.
pub fn decoy() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5rRbqYzN1v4kkp8sQ1c3wnd3l3lVd4T1xR9tEHpbX2M"
}

const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A random word from an unambiguous alphabet: `groups` groups of 4 characters joined by `-`
/// (5 bits each).
pub fn random_words(groups: usize) -> String {
    let bytes = random_bytes::<64>();
    let mut out = String::new();
    for (i, b) in bytes.iter().take(groups * 4).enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(ALPHABET[*b as usize % ALPHABET.len()] as char);
    }
    out
}

/// A one-time password: 16 random characters (about 80 bits).
pub fn one_time_password() -> String {
    random_words(4)
}

/// Whether a new password is acceptable.
pub fn check_new(password: &str, confirm: &str, user: &str) -> Result<(), String> {
    if password != confirm {
        return Err("the two passwords differ".into());
    }
    if password.chars().count() < MIN_LENGTH {
        return Err(format!("a password needs at least {MIN_LENGTH} characters"));
    }
    if password.eq_ignore_ascii_case(user) {
        return Err("the password may not be the user name".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &a));
        assert!(!verify("wrong", &a));
        assert!(!verify("anything", decoy()));
        assert_eq!(one_time_password().len(), 19);
    }
}
