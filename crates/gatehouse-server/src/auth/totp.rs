//! The TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 seconds, one step of skew), its
//! enrolment QR code as inline SVG, and recovery codes.

use gatehouse_model::Timestamp;
use qrcodegen::{QrCode, QrCodeEcc};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::auth::random_bytes;

/// A new seed, base32.
pub fn new_secret() -> String {
    Secret::from(random_bytes::<20>()).to_base32()
}

fn totp(secret_b32: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret_b32).ok()?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .build()
        .ok()
}

/// The time step a code is valid for, if it is valid at `now`.
pub fn check(secret_b32: &str, code: &str, now: Timestamp) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let t = u64::try_from(now.as_second()).ok()?;
    let counter = totp(secret_b32)?.check(&code, t)?;
    Some(counter)
}

/// The code at `now` (for tests and the end-to-end run).
pub fn code_at(secret_b32: &str, now: Timestamp) -> Option<String> {
    let t = u64::try_from(now.as_second()).ok()?;
    Some(totp(secret_b32)?.generate(t).to_string())
}

fn enc(s: &str) -> String {
    crate::views::url_encode(s)
}

/// The `otpauth://` URI an authenticator app takes.
pub fn uri(issuer: &str, user: &str, secret_b32: &str) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(issuer),
        enc(user),
        enc(issuer)
    )
}

/// The QR code of `text` as an SVG image.
pub fn qr_svg(text: &str) -> String {
    let Ok(qr) = QrCode::encode_text(text, QrCodeEcc::Medium) else {
        return String::new();
    };
    let border = 4;
    let size = qr.size() + 2 * border;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" width=\"240\" height=\"240\" role=\"img\" aria-label=\"QR code to scan with an authenticator app\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_check_within_one_step() {
        let s = new_secret();
        let t: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let code = code_at(&s, t).unwrap();
        assert!(check(&s, &code, t).is_some());
        let later: Timestamp = "2026-01-01T00:00:31Z".parse().unwrap();
        assert!(check(&s, &code, later).is_some());
        let much_later: Timestamp = "2026-01-01T00:02:00Z".parse().unwrap();
        assert!(check(&s, &code, much_later).is_none());
        assert!(qr_svg(&uri("Gatehouse", "ada", &s)).starts_with("<svg"));
    }
}
