//! Stable, user-visible keys. Database ids never leave the store; these do.
//!
//! Keys are shared (`Arc<str>`): a snapshot of a million grants carries its system key a
//! million times, and cloning a key must not allocate.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, shorten};

/// Longest key accepted anywhere.
const MAX_KEY_LEN: usize = 256;

macro_rules! key_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates and wraps a key.
            pub fn new(value: impl Into<String>) -> Result<Self, ModelError> {
                let value = value.into();
                match $check(&value) {
                    Ok(()) => Ok(Self(Arc::from(value))),
                    Err(why) => Err(ModelError::InvalidKey {
                        what: $what,
                        value: shorten(&value),
                        why,
                    }),
                }
            }

            /// The key as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ModelError;
            fn try_from(value: String) -> Result<Self, ModelError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(key: $name) -> String {
                key.0.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = ModelError;
            fn from_str(s: &str) -> Result<Self, ModelError> {
                Self::new(s)
            }
        }
    };
}

fn check_slug(value: &str) -> Result<(), &'static str> {
    const WHY: &str =
        "use 1 to 64 lowercase letters, digits, `_`, `-` or `.`, starting with a letter or digit";
    let bytes = value.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        });
    if ok { Ok(()) } else { Err(WHY) }
}

fn check_text_key(value: &str) -> Result<(), &'static str> {
    if value.trim().is_empty() {
        return Err("it must not be empty");
    }
    if value.len() > MAX_KEY_LEN {
        return Err("it must be at most 256 bytes long");
    }
    if value.trim() != value {
        return Err("it must not start or end with spaces");
    }
    if value.chars().any(char::is_control) {
        return Err("it must not contain control characters");
    }
    Ok(())
}

key_type!(
    /// Names a connected system: `erp`, `aws-prod`, `github`. Used in every reference
    /// (`erp:role/AP_Approver`), so it is a short lowercase slug without `:`.
    SystemKey,
    "system key",
    check_slug
);

key_type!(
    /// Names an identity for good: the employee id of a person from the HR feed, or the id of a
    /// non-human identity. E-mail addresses change; this key does not.
    IdentityKey,
    "identity key",
    check_text_key
);

key_type!(
    /// Names a business role: `finance-clerk`.
    RoleKey,
    "role key",
    check_slug
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_keys() {
        assert!(SystemKey::new("erp").is_ok());
        assert!(SystemKey::new("aws-prod.eu_1").is_ok());
        for bad in ["", "ERP", "-erp", "erp:x", "e r p", &"x".repeat(65)] {
            assert!(SystemKey::new(bad).is_err(), "{bad}");
        }
        let err = SystemKey::new("ERP").unwrap_err().to_string();
        assert!(err.starts_with("`ERP` is not a valid system key"), "{err}");
    }

    #[test]
    fn identity_keys() {
        assert!(IdentityKey::new("E00017").is_ok());
        assert!(IdentityKey::new("svc:backup@aws").is_ok());
        for bad in ["", "  ", " E1", "E1\n", &"x".repeat(257)] {
            assert!(IdentityKey::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn huge_input_is_shortened_in_messages() {
        let err = IdentityKey::new("y".repeat(100_000))
            .unwrap_err()
            .to_string();
        assert!(err.len() < 300, "{err}");
        assert!(err.contains("(100000 bytes)"));
    }
}
