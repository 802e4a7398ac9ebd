//! https targets against a loopback TLS server whose certificates are made
//! here: trusted through the system's store (`SSL_CERT_FILE`, which the
//! platform verifier reads on Linux) or `ca-file`, refused otherwise with
//! exit 3 and a message that says what to check.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use crate::helpers::*;

/// A CA and a certificate for localhost / 127.0.0.1 signed by it: (CA PEM, leaf chain, leaf key).
fn certificates() -> (String, Vec<rustls::pki_types::CertificateDer<'static>>, rustls::pki_types::PrivateKeyDer<'static>)
{
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    (ca.pem(), vec![leaf.der().clone()], key)
}

/// Serves the target protocol over TLS on 127.0.0.1 (block when the body
/// says "attack"); returns the port. Connections are kept alive.
fn serve_tls(
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    serve_with(config)
}

/// As [`serve_tls`], with `config` (a server that requires client certificates, say).
fn serve_with(config: rustls::ServerConfig) -> u16 {
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                let mut tls = BufReader::new(rustls::StreamOwned::new(conn, stream));
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if tls.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if tls.read_exact(&mut body).is_err() {
                        return;
                    }
                    let decision = if String::from_utf8_lossy(&body).contains("attack") { "block" } else { "allow" };
                    let answer = format!("{{\"decision\":\"{decision}\"}}");
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if tls.get_mut().write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn project(name: &str, target: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    write(&dir.join("gauntlet.toml"), &format!("[target]\nkind = \"http\"\n{target}"));
    let mut lines = String::new();
    for i in 0..4 {
        lines.push_str(&format!(
            "{{\"id\":\"b{i}\",\"input\":\"hello {i}\",\"label\":\"benign\",\"category\":\"c\"}}\n"
        ));
        lines.push_str(&format!(
            "{{\"id\":\"a{i}\",\"input\":\"attack {i}\",\"label\":\"adversarial\",\"category\":\"c\"}}\n"
        ));
    }
    write(&dir.join("corpora/cases.jsonl"), &lines);
    write(&dir.join("gates/g.toml"), "[[gate]]\nid = \"asr\"\nmetric = \"asr\"\nmax = 0.6\nmin-samples = 1\n");
    dir
}

fn write_ca(dir: &Path, pem: &str) {
    write(&dir.join("ca.pem"), pem);
}

#[test]
fn https_targets_trust_the_system_store_or_ca_file_and_refuse_an_unknown_ca() {
    let (ca_pem, chain, key) = certificates();
    let port = serve_tls(chain, key);
    let url = format!("url = \"https://127.0.0.1:{port}/judge\"\n");

    // No store holds the CA: exit 3, naming TLS and what to check.
    let untrusted = project("tls-untrusted", &url);
    let empty = untrusted.join("empty.pem");
    write(&empty, "");
    let out = gauntlet_with_env(&["run", "--quiet"], &untrusted, &[("SSL_CERT_FILE", empty.to_str().unwrap())]);
    assert_eq!(out.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("TLS:") && stderr(&out).contains("ca-file"), "{}", stderr(&out));

    // The system's store (SSL_CERT_FILE, as the platform verifier reads it on Linux) holds it.
    let system = project("tls-system", &url);
    write_ca(&system, &ca_pem);
    let bundle = system.join("ca.pem");
    let out = gauntlet_with_env(&["run", "--quiet"], &system, &[("SSL_CERT_FILE", bundle.to_str().unwrap())]);
    assert_eq!(out.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let verdict = read_json(&system.join("reports/verdict.json"));
    assert_eq!(verdict["metrics"]["overall"]["asr"]["numerator"], 0);

    // `ca-file` trusts it whatever the system holds.
    let pinned = project("tls-ca-file", &format!("{url}ca-file = \"ca.pem\"\n"));
    write_ca(&pinned, &ca_pem);
    let out = gauntlet_with_env(&["run", "--quiet"], &pinned, &[("SSL_CERT_FILE", empty.to_str().unwrap())]);
    assert_eq!(out.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn plain_http_is_refused_off_loopback_and_a_bad_ca_file_is_an_input_error() {
    let remote = project("tls-plain-remote", "url = \"http://guard.example.com/judge\"\n");
    let out = gauntlet(&["check", "--offline"], &remote);
    assert_eq!(out.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("gauntlet.toml:3:") && stderr(&out).contains("error[insecure-url]"),
        "{}",
        stderr(&out)
    );
    let allowed = project("tls-plain-allowed", "url = \"http://guard.example.com/judge\"\nallow-http = true\n");
    assert_eq!(gauntlet(&["check", "--offline"], &allowed).code(), Some(0));
    let loopback = project("tls-plain-loopback", "url = \"http://[::1]:9/judge\"\n");
    assert_eq!(gauntlet(&["check", "--offline"], &loopback).code(), Some(0));
    let bad = project("tls-bad-ca", "url = \"https://127.0.0.1:9/judge\"\nca-file = \"missing.pem\"\n");
    let out = gauntlet(&["check", "--offline"], &bad);
    assert_eq!(out.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("error[unreadable-ca-file]"), "{}", stderr(&out));
}

/// Mutual TLS: a server that requires a client certificate signed by its
/// CA accepts the run given `client-cert` and `client-key`, and refuses it
/// (exit 3, TLS) without them.
#[test]
fn mutual_tls_with_a_client_pair_and_refused_without() {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap().signed_by(&server_key, &ca).unwrap();
    let client_key = rcgen::KeyPair::generate().unwrap();
    let client = rcgen::CertificateParams::new(vec!["gauntlet-client".to_string()])
        .unwrap()
        .signed_by(&client_key, &ca)
        .unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )
        .unwrap();
    let port = serve_with(config);
    let url = format!("url = \"https://127.0.0.1:{port}/judge\"\nca-file = \"ca.pem\"\n");

    let without = project("tls-mtls-without", &url);
    write_ca(&without, &ca.pem());
    let out = gauntlet(&["run", "--quiet"], &without);
    assert_eq!(out.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("TLS") || stderr(&out).contains("connect"), "{}", stderr(&out));

    let with = project("tls-mtls-with", &format!("{url}client-cert = \"client.pem\"\nclient-key = \"client.key\"\n"));
    write_ca(&with, &ca.pem());
    write(&with.join("client.pem"), &client.pem());
    write(&with.join("client.key"), &client_key.serialize_pem());
    let out = gauntlet(&["run", "--quiet"], &with);
    assert_eq!(out.code(), Some(0), "{}{}", stdout(&out), stderr(&out));

    // One without the other is an input error at its key.
    let half = project("tls-mtls-half", &format!("{url}client-cert = \"client.pem\"\n"));
    let out = gauntlet(&["check", "--offline"], &half);
    assert_eq!(out.code(), Some(2));
    assert!(
        stderr(&out).contains("error[unreadable-client-cert]") && stderr(&out).contains("go together"),
        "{}",
        stderr(&out)
    );
}

/// A loopback CONNECT proxy: tunnels each connection to the host it names
/// and counts the tunnels; returns (port, count).
fn connect_proxy() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let tunnels = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = tunnels.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let count = count.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().unwrap());
                let mut request = String::new();
                reader.read_line(&mut request).unwrap_or(0);
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    line.clear();
                }
                let Some(target) = request.strip_prefix("CONNECT ").and_then(|r| r.split_whitespace().next()) else {
                    return;
                };
                let Ok(upstream) = std::net::TcpStream::connect(target) else { return };
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut client = client;
                client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").unwrap();
                let (mut up_read, mut up_write) = (upstream.try_clone().unwrap(), upstream);
                let mut down_write = client.try_clone().unwrap();
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut up_read, &mut down_write);
                });
                // What the client sent after the CONNECT headers, then the rest.
                let buffered = reader.buffer().to_vec();
                let _ = up_write.write_all(&buffered);
                let mut rest = reader.into_inner();
                let _ = std::io::copy(&mut rest, &mut up_write);
            });
        }
    });
    (port, tunnels)
}

/// `HTTPS_PROXY` sends the https target's connections through a CONNECT
/// proxy; `NO_PROXY` naming the host bypasses it.
#[test]
fn https_goes_through_a_connect_proxy_unless_no_proxy_names_the_host() {
    let (ca_pem, chain, key) = certificates();
    let port = serve_tls(chain, key);
    let (proxy_port, tunnels) = connect_proxy();
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let dir = project("tls-proxy", &format!("url = \"https://127.0.0.1:{port}/judge\"\nca-file = \"ca.pem\"\n"));
    write_ca(&dir, &ca_pem);
    let out = gauntlet_with_env(&["run", "--quiet"], &dir, &[("HTTPS_PROXY", &proxy), ("NO_PROXY", "")]);
    assert_eq!(out.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let through = tunnels.load(std::sync::atomic::Ordering::SeqCst);
    assert!(through >= 1, "no connection went through the proxy");
    let out = gauntlet_with_env(&["run", "--quiet"], &dir, &[("HTTPS_PROXY", &proxy), ("NO_PROXY", "127.0.0.1")]);
    assert_eq!(out.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(tunnels.load(std::sync::atomic::Ordering::SeqCst), through, "NO_PROXY was not honoured");
}

/// A self-signed CA certificate (what `openssl req -x509 -subj /CN=host
/// -addext subjectAltName=...` makes) serving as the server's own.
fn self_signed_ca(
    names: &[&str],
    expired: bool,
) -> (String, rustls::pki_types::CertificateDer<'static>, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, names[0]);
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), cert.der().clone(), key)
}

/// Regression (#39): a self-signed CA certificate used as the server's own
/// was refused with `CaUsedAsEndEntity` although curl accepts it as
/// `--cacert`. It is trusted as itself when listed in `ca-file`; a wrong
/// name or an expired one is still refused.
#[test]
fn a_self_signed_ca_in_ca_file_is_trusted_as_the_servers_own_certificate() {
    let run = |name: &str, names: &[&str], expired: bool| {
        let (pem, der, key) = self_signed_ca(names, expired);
        let port = serve_tls(vec![der], rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()));
        let dir = project(name, &format!("url = \"https://127.0.0.1:{port}/judge\"\nca-file = \"ca.pem\"\n"));
        write_ca(&dir, &pem);
        gauntlet(&["run", "--quiet"], &dir)
    };
    let out = run("tls-self-signed", &["localhost", "127.0.0.1"], false);
    assert_eq!(out.code(), Some(0), "{}{}", stdout(&out), stderr(&out));

    let out = run("tls-self-signed-wrong-name", &["guard.internal"], false);
    assert_eq!(out.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("TLS:") && stderr(&out).contains("not valid for name"), "{}", stderr(&out));

    let out = run("tls-self-signed-expired", &["localhost", "127.0.0.1"], true);
    assert_eq!(out.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("TLS:") && stderr(&out).contains("expired"), "{}", stderr(&out));
}
