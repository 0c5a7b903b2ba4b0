//! Connecting to PostgreSQL, over TLS when the URL asks for it, with libpq's parameters and
//! meanings (rustls, no OpenSSL):
//!
//! | `sslmode`     | encrypted             | the server's certificate is checked                |
//! |---------------|-----------------------|----------------------------------------------------|
//! | `disable`     | no                    | —                                                  |
//! | `prefer`      | if the server offers  | no (as libpq), unless `sslrootcert` is given        |
//! | `require`     | yes                   | no (as libpq), unless `sslrootcert` is given        |
//! | `verify-ca`   | yes                   | signed by a trusted CA                             |
//! | `verify-full` | yes                   | signed by a trusted CA, and issued for the host     |
//!
//! The default is `prefer`. The trusted CAs are those of `sslrootcert` (a PEM file), or the
//! Mozilla roots when it is not given; `sslcert` and `sslkey` (PEM files) present a client
//! certificate. Every other parameter goes to the PostgreSQL client as it is.

use std::path::Path;
use std::sync::Arc;

use postgres::config::SslMode;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::StoreError;

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Not at all: encryption against passive listening only (libpq's `prefer`, `require`).
    Nothing,
    /// Its chain, to a trusted CA.
    Ca,
    /// Its chain and its name.
    Full,
}

/// A PostgreSQL target: the client's configuration and, unless TLS is disabled, how to make
/// TLS connections.
#[derive(Clone)]
pub(crate) struct PgTarget {
    config: postgres::Config,
    tls: Option<MakeRustlsConnect>,
    /// What is checked of the server (for messages and tests).
    pub(crate) verify: Option<Verify>,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("config", &self.config)
            .field("verify", &self.verify)
            .finish_non_exhaustive()
    }
}

impl PgTarget {
    /// Reads a `postgres://` URL with its TLS parameters.
    pub(crate) fn parse(url: &str) -> Result<PgTarget, StoreError> {
        let invalid =
            |why: String| StoreError::InvalidLocation(format!("{}: {why}", crate::redact(url)));
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut mode = "prefer".to_owned();
        let (mut root, mut cert, mut key) = (None, None, None);
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(v);
            match k {
                "sslmode" => mode = value,
                "sslrootcert" => root = Some(value),
                "sslcert" => cert = Some(value),
                "sslkey" => key = Some(value),
                _ => rest.push(pair),
            }
        }
        let (ssl_mode, verify) = match (mode.as_str(), root.is_some()) {
            ("disable", _) => (SslMode::Disable, None),
            ("allow" | "prefer", false) => (SslMode::Prefer, Some(Verify::Nothing)),
            ("allow" | "prefer", true) => (SslMode::Prefer, Some(Verify::Ca)),
            ("require", false) => (SslMode::Require, Some(Verify::Nothing)),
            ("require" | "verify-ca", _) => (SslMode::Require, Some(Verify::Ca)),
            ("verify-full", _) => (SslMode::Require, Some(Verify::Full)),
            (other, _) => {
                return Err(invalid(format!(
                    "`sslmode={other}` is not a mode; use disable, prefer, require, verify-ca or verify-full"
                )));
            }
        };
        let client_url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config: postgres::Config = client_url
            .parse()
            .map_err(|e: postgres::Error| invalid(e.to_string()))?;
        config.ssl_mode(ssl_mode);
        let tls = match verify {
            None => None,
            Some(v) => Some(MakeRustlsConnect::new(
                client_config(v, root.as_deref(), cert.as_deref().zip(key.as_deref()))
                    .map_err(invalid)?,
            )),
        };
        if cert.is_some() != key.is_some() {
            return Err(invalid(
                "a client certificate needs both `sslcert` and `sslkey`".into(),
            ));
        }
        Ok(PgTarget {
            config,
            tls,
            verify,
        })
    }

    /// Opens a connection.
    pub(crate) fn connect(&self) -> Result<postgres::Client, StoreError> {
        Ok(match &self.tls {
            Some(tls) => self.config.connect(tls.clone())?,
            None => self.config.connect(postgres::NoTls)?,
        })
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &str, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(Path::new(path)).map_err(|e| format!("cannot read the {what} `{path}`: {e}"))
}

fn client_config(
    verify: Verify,
    root: Option<&str>,
    identity: Option<(&str, &str)>,
) -> Result<ClientConfig, String> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    match root {
        Some(path) => {
            let pem = read(path, "CA file (sslrootcert)")?;
            let mut n = 0;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| format!("the CA file `{path}` is not PEM: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("the CA file `{path}` holds a bad certificate: {e}"))?;
                n += 1;
            }
            if n == 0 {
                return Err(format!("the CA file `{path}` holds no certificate"));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match verify {
        Verify::Full => builder.with_root_certificates(roots),
        Verify::Ca | Verify::Nothing => {
            let algorithms = provider.signature_verification_algorithms;
            let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| e.to_string())?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Lenient {
                    inner,
                    algorithms,
                    check_chain: verify == Verify::Ca,
                }))
        }
    };
    match identity {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain =
                CertificateDer::pem_slice_iter(&read(cert, "client certificate (sslcert)")?)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("the client certificate `{cert}` is not PEM: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(&read(key, "client key (sslkey)")?)
                .map_err(|e| format!("the client key `{key}` is not a PEM private key: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the client certificate and key do not go together: {e}"))
        }
    }
}

/// Checks less than rustls does by default: the chain but not the name (`verify-ca`), or
/// nothing of the certificate (`prefer`, `require`). The handshake's signatures are always
/// checked, so the connection is at least encrypted to the holder of the presented key.
#[derive(Debug)]
struct Lenient {
    inner: Arc<WebPkiServerVerifier>,
    algorithms: WebPkiSupportedAlgorithms,
    check_chain: bool,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.check_chain {
            return Ok(ServerCertVerified::assertion());
        }
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Decodes `%XX` escapes of a URL parameter (a path with spaces, say).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_libpq() {
        let t = |url: &str| PgTarget::parse(url).map(|t| t.verify);
        assert_eq!(t("postgres://u@h/db").unwrap(), Some(Verify::Nothing));
        assert_eq!(t("postgres://u@h/db?sslmode=disable").unwrap(), None);
        assert_eq!(
            t("postgres://u@h/db?sslmode=require").unwrap(),
            Some(Verify::Nothing)
        );
        assert_eq!(
            t("postgres://u@h/db?sslmode=verify-full").unwrap(),
            Some(Verify::Full)
        );
        assert_eq!(
            t("postgres://u@h/db?sslmode=verify-ca&connect_timeout=5").unwrap(),
            Some(Verify::Ca)
        );
        let err = t("postgres://u:pw@h/db?sslmode=sometimes")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`sslmode=sometimes` is not a mode"), "{err}");
        assert!(!err.contains("pw"), "{err}");
        let err = t("postgres://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot read the CA file (sslrootcert) `/nonexistent/ca.pem`"),
            "{err}"
        );
    }

    #[test]
    fn passwords_are_hidden_in_messages() {
        assert_eq!(
            crate::redact("postgres://app:s3cret@db:5432/g?sslmode=verify-full"),
            "postgres://app:***@db:5432/g?sslmode=verify-full"
        );
        assert_eq!(
            crate::redact("postgresql://db/g?user=app&password=s3cret&sslmode=require"),
            "postgres://db/g?user=app&password=***&sslmode=require"
        );
    }

    #[test]
    fn parameters_are_percent_decoded() {
        assert_eq!(percent_decode("/tmp/my%20ca.pem"), "/tmp/my ca.pem");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
