//! TLS to the source, with libpq's `sslmode` semantics.
//!
//! | `sslmode`     | encryption            | server certificate checked against          |
//! |---------------|-----------------------|---------------------------------------------|
//! | `disable`     | never                 | -                                           |
//! | `prefer` (default) | if the server offers it | nothing (as libpq)                    |
//! | `require`     | always                | nothing (as libpq)                          |
//! | `verify-ca`   | always                | `sslrootcert` (or the Mozilla roots)        |
//! | `verify-full` | always                | `sslrootcert` (or the Mozilla roots) and the host name |
//!
//! The same settings serve the SQL sessions (tokio-postgres, with the rustls config built here)
//! and the replication session (pgwire-replication, with its own equivalent `TlsConfig`).
//!
//! `verify-ca` on the replication session: pgwire-replication 0.5's chain-only verifier does not
//! recognise the name-mismatch error of current rustls, so it would reject every certificate whose
//! names do not include the host. The SQL session (which always connects first) verifies the
//! chain with [`ChainOnly`] and learns a DNS name the certificate is valid for; the replication
//! session then verifies chain *and* that name — the same guarantee as `verify-ca`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use siphon_core::Error;

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// Parses the `sslmode` of the URL at configuration key `key`.
    pub fn parse(s: &str, key: &str) -> Result<SslMode, Error> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(Error::fatal(format!(
                    "invalid configuration at `{key}`: sslmode={other:?} is not one of disable, prefer, require, verify-ca, verify-full"
                )))
            }
        })
    }
}

/// The TLS settings of a URL (`source.url`, or `destination.url` for the PostgreSQL destination).
#[derive(Clone, Debug)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// The URL's configuration key, for errors.
    key: &'static str,
    /// `sslrootcert`: PEM file of the CA(s) that sign the server certificate.
    pub root_cert: Option<PathBuf>,
    /// For `verify-ca`: a DNS name of the server certificate, learned when a SQL session verified
    /// its chain.
    learned_name: Arc<Mutex<Option<String>>>,
}

impl TlsSettings {
    pub fn new(mode: SslMode, root_cert: Option<PathBuf>, key: &'static str) -> Self {
        TlsSettings { mode, key, root_cert, learned_name: Arc::default() }
    }

    /// The rustls configuration for SQL sessions.
    pub fn client_config(&self) -> Result<ClientConfig, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::fatal("could not set up TLS").with_detail(e.to_string()))?;
        let roots = Arc::new(self.roots()?);
        let config = match self.mode {
            SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
                .with_no_client_auth(),
            SslMode::VerifyCa => {
                let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| Error::fatal("could not set up TLS").with_detail(e.to_string()))?;
                let verifier = ChainOnly { inner, learned_name: self.learned_name.clone() };
                builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier)).with_no_client_auth()
            }
            SslMode::VerifyFull => builder.with_root_certificates(roots).with_no_client_auth(),
        };
        Ok(config)
    }

    fn roots(&self) -> Result<RootCertStore, Error> {
        let mut roots = RootCertStore::empty();
        let Some(path) = &self.root_cert else {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            return Ok(roots);
        };
        let bad = |e: String| {
            Error::fatal(format!("invalid configuration at `{}`: cannot read sslrootcert {}", self.key, path.display()))
                .with_detail(e)
                .with_hint("sslrootcert must name a PEM file with the CA certificate(s) of the server")
        };
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
            roots.add(cert.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(bad("no certificate in the file".into()));
        }
        Ok(roots)
    }

    /// The equivalent settings for the replication session.
    pub fn replication(&self) -> pgwire_replication::TlsConfig {
        use pgwire_replication::TlsConfig;
        match self.mode {
            SslMode::Disable => TlsConfig::disabled(),
            SslMode::Prefer => TlsConfig { mode: pgwire_replication::SslMode::Prefer, ..TlsConfig::disabled() },
            SslMode::Require => TlsConfig::require(),
            SslMode::VerifyCa => match self.learned_name.lock().ok().and_then(|n| n.clone()) {
                Some(name) => TlsConfig::verify_full(self.root_cert.clone()).with_sni_hostname(name),
                None => TlsConfig::verify_ca(self.root_cert.clone()),
            },
            SslMode::VerifyFull => TlsConfig::verify_full(self.root_cert.clone()),
        }
    }
}

/// `prefer` / `require`: encrypt, but check nothing (libpq's semantics for these modes).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the host name is not compared.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    learned_name: Arc<Mutex<Option<String>>>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. })) => {
                ServerCertVerified::assertion()
            }
            other => other?,
        };
        let name = webpki::EndEntityCert::try_from(end_entity)
            .ok()
            .and_then(|cert| cert.valid_dns_names().next().map(str::to_string));
        if let (Some(name), Ok(mut learned)) = (name, self.learned_name.lock()) {
            *learned = Some(name);
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
