//! Dynadot.

use std::time::Duration;

use registrars::{ChangeOutcome, DelegationProvider, DsSpec, Glue};
use testkit::mocks::dynadot::DynadotMock;

use super::{ds, DS_A, DS_B};
use crate::fixtures::DynadotFixture;
use crate::{names, provider, Capture, Fixture, NEW};

/// The test domain.
fn example() -> registrars::DomainName {
    registrars::DomainName::new("example.com").expect("valid domain")
}

#[tokio::test]
async fn one_request_in_flight_per_key() {
    let fixture = DynadotFixture::start().await;
    let capture = Capture::start();
    fixture.0.hold_requests(Duration::from_millis(30));
    // Two adapters built from the same key (as per-call tokens would be) share the limit.
    let first = provider(&fixture, &fixture.token());
    let second = provider(&fixture, &fixture.token());
    let domain = example();
    let (a, b, c, d) = tokio::join!(
        first.read(&domain),
        second.read(&domain),
        first.read(&domain),
        second.read(&domain)
    );
    let all: Vec<_> = [a, b, c, d].into_iter().map(|result| capture.note(result)).collect();
    assert!(all.iter().all(Result::is_ok), "{all:?}");
    assert_eq!(
        fixture.0.refused_concurrent.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn unknown_hosts_are_added_to_the_account_first() {
    let fixture = DynadotFixture(DynadotMock::start().await);
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let outcome = capture.note(provider.set_nameservers(&example(), &names(&NEW)).await);
    assert_eq!(outcome.ok(), Some(ChangeOutcome::Applied));
    assert_eq!(fixture.0.control.mutations(), ["add_ns", "add_ns", "set_ns"]);
    assert_eq!(fixture.0.nameservers("example.com"), NEW);
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn glue_hosts_are_registered_and_readdressed() {
    let fixture = DynadotFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let glue = |ips: &[&str]| {
        [Glue {
            host: names(&["ns1.example.com"])[0].clone(),
            addresses: ips.iter().map(|ip| ip.parse().expect("ip")).collect(),
        }]
    };
    let outcome = capture.note(
        provider
            .ensure_glue(&example(), &glue(&["192.0.2.1", "2001:db8::1"]))
            .await,
    );
    assert_eq!(outcome.ok(), Some(ChangeOutcome::Applied));
    assert_eq!(
        fixture.0.glue("ns1.example.com"),
        Some(vec!["192.0.2.1".into(), "2001:db8::1".into()])
    );
    let again = capture.note(
        provider
            .ensure_glue(&example(), &glue(&["2001:db8::1", "192.0.2.1"]))
            .await,
    );
    assert_eq!(again.ok(), Some(ChangeOutcome::AlreadyInSync));
    let outcome = capture.note(provider.ensure_glue(&example(), &glue(&["192.0.2.2"])).await);
    assert_eq!(outcome.ok(), Some(ChangeOutcome::Applied));
    assert_eq!(fixture.0.glue("ns1.example.com"), Some(vec!["192.0.2.2".into()]));
    assert_eq!(fixture.0.control.mutations(), ["register_ns", "set_ns_ip", "set_ns_ip"]);
    capture.finish(&fixture.secrets());
}

#[tokio::test]
async fn one_ds_record_is_set_and_cleared() {
    let fixture = DynadotFixture::start().await;
    let capture = Capture::start();
    let provider = provider(&fixture, &fixture.token());
    let spec = [DsSpec::from(ds(DS_A))];
    assert_eq!(
        capture.note(provider.set_ds(&example(), &spec).await).ok(),
        Some(ChangeOutcome::Applied)
    );
    assert_eq!(fixture.0.ds_tag("example.com").as_deref(), Some("2371"));
    assert_eq!(
        capture.note(provider.read(&example()).await).expect("readable").ds,
        Some(vec![ds(DS_A)])
    );
    assert_eq!(
        capture.note(provider.set_ds(&example(), &spec).await).ok(),
        Some(ChangeOutcome::AlreadyInSync)
    );
    let two = [DsSpec::from(ds(DS_A)), DsSpec::from(ds(DS_B))];
    let error = capture
        .note(provider.set_ds(&example(), &two).await)
        .expect_err("one only");
    assert!(error.to_string().contains("at most 1"), "{error}");
    assert_eq!(
        capture.note(provider.set_ds(&example(), &[]).await).ok(),
        Some(ChangeOutcome::Applied)
    );
    assert_eq!(fixture.0.ds_tag("example.com"), None);
    assert_eq!(fixture.0.control.mutations(), ["set_dnssec", "clear_dnssec"]);
    capture.finish(&fixture.secrets());
}
