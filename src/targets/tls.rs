//! TLS for http targets that name a `ca-file`: trust what curl trusts.
//!
//! Internal guard services often run on the certificate that
//! `openssl req -x509` makes: self-signed, and marked as a CA. Given that
//! file, curl and Python trust the server; webpki refuses it
//! (`CaUsedAsEndEntity`), because a CA certificate may not identify a
//! server. ureq offers no verifier hook, so with a `ca-file` gauntlet puts
//! its own rustls layer into ureq's connector chain (after the CONNECT proxy
//! and TCP connectors, so `HTTPS_PROXY` still applies). Its verifier runs
//! the ordinary chain check first and makes one exception: when that check
//! fails only because a CA certificate was presented, and the presented
//! certificate is byte for byte one listed in `ca-file`, the server is
//! trusted as that certificate, after its name is checked. Its validity
//! period was already checked: webpki checks the dates before the CA flag.

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, StreamOwned};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, TcpConnector,
    Transport, TransportAdapter,
};

/// The certificates in a PEM file (a CA bundle), as DER.
pub fn read_ca_file(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let ureq::tls::PemItem::Certificate(c) = item.map_err(|e| format!("{}: {e}", path.display()))? {
            certs.push(c.der().to_vec());
        }
    }
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    let mut roots = RootCertStore::empty();
    let (_, ignored) = roots.add_parsable_certificates(certs.iter().map(|der| CertificateDer::from(der.as_slice())));
    if roots.is_empty() {
        return Err(format!("{}: none of its {ignored} certificates can be a trust anchor", path.display()));
    }
    Ok(certs)
}

/// A client certificate chain and its key from PEM files, for mutual TLS.
pub fn read_client_pair(cert: &std::path::Path, key: &std::path::Path) -> Result<ureq::tls::ClientCert, String> {
    let chain: Vec<ureq::tls::Certificate<'static>> =
        read_ca_file(cert)?.into_iter().map(|der| ureq::tls::Certificate::from_der(&der).to_owned()).collect();
    let pem = std::fs::read(key).map_err(|e| format!("{}: {e}", key.display()))?;
    for item in ureq::tls::parse_pem(&pem) {
        if let ureq::tls::PemItem::PrivateKey(k) = item.map_err(|e| format!("{}: {e}", key.display()))? {
            let pair = ureq::tls::ClientCert::new_with_certs(&chain, k.to_owned());
            // The key must load, and belong to the certificate, before any request.
            let (chain, key_der) = client_auth(&pair).map_err(|e| format!("{}: {e}", key.display()))?;
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(RootCertStore::empty())
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| format!("{} and {}: {e}", cert.display(), key.display()))?;
            return Ok(pair);
        }
    }
    Err(format!("{}: no PEM private key in it", key.display()))
}

fn client_auth(pair: &ureq::tls::ClientCert) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = pair.certs().iter().map(|c| CertificateDer::from(c.der().to_vec())).collect();
    let key = PrivateKeyDer::try_from(pair.private_key().der().to_vec()).map_err(|e| e.to_string())?;
    Ok((chain, key))
}

/// An agent whose TLS trusts only `ca_certs` (with the exception above)
/// and presents `client` when the server asks for one. Both were checked
/// when read ([`read_ca_file`], [`read_client_pair`]).
pub fn agent_trusting(
    config: ureq::config::Config,
    ca_certs: &[Vec<u8>],
    client: Option<&ureq::tls::ClientCert>,
) -> ureq::Agent {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let pinned: Vec<CertificateDer<'static>> = ca_certs.iter().map(|der| CertificateDer::from(der.clone())).collect();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(pinned.iter().cloned());
    let chained = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .expect("ca-file holds a trust anchor (checked when read)");
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .expect("ring supports every TLS version rustls has")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedOrChained { chained, pinned }));
    let tls = match client.map(client_auth) {
        Some(Ok((chain, key))) => {
            builder.with_client_auth_cert(chain, key).expect("client pair loads (checked when read)")
        }
        _ => builder.with_no_client_auth(),
    };
    let connector =
        ().chain(ConnectProxyConnector::default())
            .chain(TcpConnector::default())
            .chain(OwnTls { config: Arc::new(tls) });
    ureq::Agent::with_parts(config, connector, DefaultResolver::default())
}

#[derive(Debug)]
struct PinnedOrChained {
    chained: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

/// Whether the chain check refused the certificate only for being a CA.
fn refused_as_ca(e: &rustls::Error) -> bool {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            matches!(other.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity))
        }
        _ => false,
    }
}

impl ServerCertVerifier for PinnedOrChained {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.chained.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(e) if refused_as_ca(&e) && self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) => {
                let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&parsed, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chained.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chained.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.chained.supported_verify_schemes()
    }
}

/// The TLS step of the connector chain, with gauntlet's client config.
#[derive(Debug)]
struct OwnTls {
    config: Arc<ClientConfig>,
}

impl<In: Transport> Connector<In> for OwnTls {
    type Out = Either<In, TlsTransport>;

    fn connect(&self, details: &ConnectionDetails, chained: Option<In>) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else { return Ok(None) };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details.uri.host().unwrap_or_default();
        // An IPv6 literal comes bracketed in the URI, bare in the certificate.
        let bare = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let name =
            ServerName::try_from(bare).map_err(|_| ureq::Error::Tls("the URL's host is not a TLS server name"))?;
        let mut connection = ClientConnection::new(self.config.clone(), name)?;
        let mut socket = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        socket.set_timeout(details.timeout);
        connection.complete_io(&mut socket)?;
        let buffers = LazyBuffers::new(details.config.input_buffer_size(), details.config.output_buffer_size());
        Ok(Some(Either::B(TlsTransport { buffers, stream: StreamOwned { conn: connection, sock: socket } })))
    }
}

struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let read = self.stream.read(input)?;
        self.buffers.input_appended(read);
        Ok(read > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
