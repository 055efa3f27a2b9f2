//! Cloudflare as the parent zone's host.

use std::time::{Duration, Instant};

use registrars::{ChangeOutcome, DelegationProvider, DsSpec, Glue};
use testkit::mocks::cloudflare::{self, CloudflareMock};

use super::{ds, DS_A, DS_B};
use crate::fixtures::CloudflareFixture;
use crate::{names, provider, Capture, Fixture};

/// Parses a domain.
fn domain(name: &str) -> registrars::DomainName {
    registrars::DomainName::new(name).expect("valid domain")
}

#[tokio::test]
async fn glue_and_ds_are_records_next_to_the_delegation() {
    let fixture = CloudflareFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let pool = domain("pool.example.com");
    let wanted = names(&["ns1.pool.example.com", "ns2.pool-dns.net"]);
    let glue = [Glue {
        host: names(&["ns1.pool.example.com"])[0].clone(),
        addresses: vec!["192.0.2.53".parse().expect("ip"), "2001:db8::53".parse().expect("ip")],
    }];
    assert_eq!(
        capture.note(provider.ensure_glue(&pool, &glue).await).ok(),
        Some(ChangeOutcome::Applied)
    );
    assert_eq!(fixture.0.contents("A", "ns1.pool.example.com"), ["192.0.2.53"]);
    assert_eq!(fixture.0.contents("AAAA", "ns1.pool.example.com"), ["2001:db8::53"]);
    assert_eq!(
        capture.note(provider.ensure_glue(&pool, &glue).await).ok(),
        Some(ChangeOutcome::AlreadyInSync)
    );
    let moved = [Glue {
        addresses: vec!["192.0.2.54".parse().expect("ip")],
        ..glue[0].clone()
    }];
    assert_eq!(
        capture.note(provider.ensure_glue(&pool, &moved).await).ok(),
        Some(ChangeOutcome::Applied)
    );
    assert_eq!(fixture.0.contents("A", "ns1.pool.example.com"), ["192.0.2.54"]);
    assert!(fixture.0.contents("AAAA", "ns1.pool.example.com").is_empty());

    assert_eq!(
        capture.note(provider.set_nameservers(&pool, &wanted).await).ok(),
        Some(ChangeOutcome::Applied)
    );
    let specs = [DsSpec::from(ds(DS_A))];
    assert_eq!(
        capture.note(provider.set_ds(&pool, &specs).await).ok(),
        Some(ChangeOutcome::Applied)
    );
    let read = capture.note(provider.read(&pool).await).expect("readable");
    assert_eq!(read.ds, Some(vec![ds(DS_A)]));
    assert_eq!(
        capture.note(provider.set_ds(&pool, &specs).await).ok(),
        Some(ChangeOutcome::AlreadyInSync)
    );
    let rolled = [DsSpec::from(ds(DS_B))];
    assert_eq!(
        capture.note(provider.set_ds(&pool, &rolled).await).ok(),
        Some(ChangeOutcome::Applied)
    );
    assert_eq!(
        capture.note(provider.read(&pool).await).expect("readable").ds,
        Some(vec![ds(DS_B)])
    );
    assert_eq!(
        capture.note(provider.set_ds(&pool, &[]).await).ok(),
        Some(ChangeOutcome::Applied)
    );
    assert!(fixture.0.contents("DS", "pool.example.com").is_empty());
    // One batch per change: glue, glue, NS, DS, DS, DS removal.
    assert_eq!(fixture.0.control.mutations().len(), 6);
    assert!(fixture
        .0
        .control
        .mutations()
        .iter()
        .all(|call| call == "POST /zones/dns_records/batch"));
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn ds_without_ns_is_refused_before_sending() {
    let fixture = CloudflareFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let error = capture
        .note(
            provider
                .set_ds(&domain("unsigned.example.com"), &[DsSpec::from(ds(DS_A))])
                .await,
        )
        .expect_err("no NS there");
    assert_eq!(error.code(), "invalid-request");
    assert!(error.to_string().contains("set the nameservers first"), "{error}");
    assert!(fixture.0.control.mutations().is_empty());
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn glue_outside_the_domain_is_refused() {
    let fixture = CloudflareFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let glue = [Glue {
        host: names(&["ns1.elsewhere.net"])[0].clone(),
        addresses: vec!["192.0.2.1".parse().expect("ip")],
    }];
    let error = capture
        .note(provider.ensure_glue(&domain("pool.example.com"), &glue).await)
        .expect_err("out of bailiwick");
    assert!(error.to_string().contains("not inside"), "{error}");
    assert_eq!(fixture.0.control.requests(), 0);
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn registrar_domains_are_read_only() {
    let fixture = CloudflareFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let registered = domain("registered.example");
    let read = capture.note(provider.read(&registered).await).expect("readable");
    assert_eq!(
        read.nameservers,
        names(&["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"])
    );
    let error = capture
        .note(
            provider
                .set_nameservers(&registered, &names(&["ns1.pool-dns.net", "ns2.pool-dns.net"]))
                .await,
        )
        .expect_err("read-only");
    assert_eq!(error.code(), "read-only");
    assert!(error.to_string().contains("Cloudflare Registrar"), "{error}");
    assert!(
        error.to_string().contains("cannot be changed through the API"),
        "{error}"
    );
    let error = capture
        .note(provider.set_ds(&registered, &[]).await)
        .expect_err("read-only");
    assert_eq!(error.code(), "read-only");
    assert!(fixture.0.control.mutations().is_empty());
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn other_apex_zones_are_read_only_and_global_keys_work() {
    let fixture = CloudflareFixture::start().await;
    let capture = Capture::start();
    let token = format!("{}:{}", cloudflare::GLOBAL_EMAIL, cloudflare::GLOBAL_KEY);
    let provider = provider(&fixture, &token);
    let error = capture
        .note(
            provider
                .set_nameservers(&domain("other.example"), &names(&["ns1.pool-dns.net"]))
                .await,
        )
        .expect_err("read-only");
    assert_eq!(error.code(), "read-only");
    assert!(error.to_string().contains("set at its registrar"), "{error}");
    // The global key sees every zone, so it can delegate below other.example.
    let outcome = capture.note(
        provider
            .set_nameservers(&domain("pool.other.example"), &names(&["ns1.pool-dns.net"]))
            .await,
    );
    assert_eq!(outcome.ok(), Some(ChangeOutcome::Applied));
    assert_eq!(fixture.0.contents("NS", "pool.other.example"), ["ns1.pool-dns.net"]);
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn zone_scoped_tokens_do_not_see_other_zones() {
    let fixture = CloudflareFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, cloudflare::SCOPED_TOKEN);
    let error = capture
        .note(provider.read(&domain("pool.example.com")).await)
        .expect_err("outside the token's zones");
    assert_eq!(error.code(), "domain-not-in-account");
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn names_with_other_records_cannot_be_delegated() {
    let fixture = CloudflareFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let error = capture
        .note(
            provider
                .set_nameservers(&domain("www.example.com"), &names(&["ns1.pool-dns.net"]))
                .await,
        )
        .expect_err("A record there");
    assert_eq!(error.code(), "invalid-request");
    assert!(error.to_string().contains("already has A record"), "{error}");
    assert!(fixture.0.control.mutations().is_empty());
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let mock = CloudflareMock::start().await;
    let fixture = CloudflareFixture(mock);
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    fixture
        .0
        .control
        .retry_after
        .store(1, std::sync::atomic::Ordering::SeqCst);
    fixture.0.control.throttle_next(1);
    let started = Instant::now();
    capture
        .note(provider.read(&domain("pool.example.com")).await)
        .expect("retried");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(fixture.0.control.throttled(), 1);
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn server_errors_are_retried_for_reads_but_not_for_record_creation() {
    let fixture = CloudflareFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let pool = domain("pool.example.com");
    fixture.0.control.unavailable_after(0, 2);
    capture
        .note(provider.read(&pool).await)
        .expect("read retried past two 503s");

    // The batch (a creation) is not repeated blindly: the caller re-reads and retries.
    fixture.0.control.unavailable_after(1, 1);
    let wanted = names(&["ns1.pool-dns.net", "ns2.pool-dns.net"]);
    let error = capture
        .note(provider.set_nameservers(&pool, &wanted).await)
        .expect_err("503 on the batch");
    assert_eq!(error.code(), "api-unavailable");
    assert_eq!(fixture.0.control.mutations().len(), 1);
    assert_eq!(fixture.0.control.effective(), 0);
    let outcome = capture.note(provider.set_nameservers(&pool, &wanted).await);
    assert_eq!(outcome.ok(), Some(ChangeOutcome::Applied));
    assert_eq!(fixture.0.control.effective(), 1);
    capture.finish(&fixture.secrets());
}
