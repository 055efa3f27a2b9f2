//! Namecheap.

use registrars::{ChangeOutcome, DelegationProvider, DsSpec, Glue};
use testkit::mocks::namecheap;

use super::{ds, DS_A};
use crate::fixtures::NamecheapFixture;
use crate::{names, provider, Capture, Fixture, NEW};

/// The test domain.
fn example() -> registrars::DomainName {
    registrars::DomainName::new("example.com").expect("valid domain")
}

#[tokio::test]
async fn credentials_travel_in_the_body_not_the_url() {
    let fixture = NamecheapFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    capture.note(provider.read(&example()).await).expect("readable");
    capture
        .note(provider.set_nameservers(&example(), &names(&NEW)).await)
        .expect("applied");
    assert!(fixture.0.control.requests() >= 2);
    for query in fixture.0.queries() {
        assert!(!query.contains(namecheap::KEY), "key in a URL: {query}");
    }
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn client_ip_outside_the_whitelist_is_explained() {
    let fixture = NamecheapFixture::start().await;
    let capture = Capture::start();
    let token = format!("{}:{}:203.0.113.9", namecheap::USER, namecheap::KEY);
    let provider = provider(&fixture, &token);
    let error = capture
        .note(provider.read(&example()).await)
        .expect_err("not whitelisted");
    assert_eq!(error.code(), "invalid-token");
    assert!(error.to_string().contains("whitelist 203.0.113.9"), "{error}");
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn glue_is_created_then_updated() {
    let fixture = NamecheapFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let host = names(&["ns1.example.com"])[0].clone();
    let glue = |ip: &str| {
        [Glue {
            host: host.clone(),
            addresses: vec![ip.parse().expect("ip")],
        }]
    };
    let outcome = capture.note(provider.ensure_glue(&example(), &glue("192.0.2.10")).await);
    assert_eq!(outcome.ok(), Some(ChangeOutcome::Applied));
    assert_eq!(fixture.0.host_address("ns1.example.com").as_deref(), Some("192.0.2.10"));
    let outcome = capture.note(provider.ensure_glue(&example(), &glue("192.0.2.10")).await);
    assert_eq!(outcome.ok(), Some(ChangeOutcome::AlreadyInSync));
    let outcome = capture.note(provider.ensure_glue(&example(), &glue("192.0.2.11")).await);
    assert_eq!(outcome.ok(), Some(ChangeOutcome::Applied));
    assert_eq!(fixture.0.host_address("ns1.example.com").as_deref(), Some("192.0.2.11"));
    assert_eq!(
        fixture.0.control.mutations(),
        ["namecheap.domains.ns.create", "namecheap.domains.ns.update"]
    );

    // With its glue in place the in-bailiwick host can join the NS set.
    let outcome = capture.note(
        provider
            .set_nameservers(&example(), &names(&["ns1.example.com", "ns2.pool-dns.net"]))
            .await,
    );
    assert_eq!(outcome.ok(), Some(ChangeOutcome::Applied));
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn glue_limits_are_checked_before_sending() {
    let fixture = NamecheapFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let host = names(&["ns1.example.com"])[0].clone();
    for addresses in [vec!["2001:db8::1"], vec!["192.0.2.1", "192.0.2.2"]] {
        let glue = [Glue {
            host: host.clone(),
            addresses: addresses.iter().map(|ip| ip.parse().expect("ip")).collect(),
        }];
        let error = capture
            .note(provider.ensure_glue(&example(), &glue).await)
            .expect_err("over the limit");
        assert_eq!(error.code(), "invalid-request", "{error}");
    }
    assert_eq!(fixture.0.control.requests(), 0);
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn ds_is_manual_only() {
    let fixture = NamecheapFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let error = capture
        .note(provider.set_ds(&example(), &[DsSpec::from(ds(DS_A))]).await)
        .expect_err("no API");
    assert_eq!(error.code(), "unsupported-operation");
    assert!(error.to_string().contains("control panel"), "{error}");
    assert_eq!(
        capture.note(provider.read(&example()).await).expect("readable").ds,
        None
    );
    assert!(fixture.0.control.mutations().is_empty());
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn subdomains_are_not_registered_domains() {
    let fixture = NamecheapFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let pool = registrars::DomainName::new("pool.example.com").expect("valid");
    let error = capture
        .note(provider.read(&pool).await)
        .expect_err("SLD pool, TLD example.com");
    assert_eq!(error.code(), "domain-not-in-account");
    capture.finish(&fixture.secrets());
}
