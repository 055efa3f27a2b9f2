//! The pool API of a running `pooldns serve`, on SQLite and on PostgreSQL:
//! PDM's routes, fields and status codes, the defects PDM had fixed, and
//! the DNS every step implies, asked of the server with dig.

use std::time::Duration;

use serde_json::{json, Value};
use testkit::pool::{wait_until, PoolOptions, PoolServer, OPERATOR_KEY, READER_KEY};

const WAIT: Duration = Duration::from_secs(15);

fn on_every_backend(test: impl Fn(PoolOptions)) {
    test(PoolOptions {
        serve_parent: true,
        ..PoolOptions::default()
    });
    if let Some(url) = testkit::postgres_url("pool API tests") {
        test(PoolOptions {
            store_url: Some(url),
            serve_parent: true,
            ..PoolOptions::default()
        });
    }
}

#[test]
fn routes_follow_pdm_and_fix_its_defects() {
    on_every_backend(|options| {
        let pools = PoolServer::start("pdm", options);
        let pool = pools.pool.clone();
        let op = Some(OPERATOR_KEY);

        // Reserved labels: PDM's 21, sorted.
        let (status, body) = pools.call("GET", "/api/v1/reserved", op, None);
        assert_eq!(status, 200);
        let reserved = body["reserved"].as_array().expect("list");
        assert_eq!(reserved.len(), 21);
        assert_eq!(reserved[0], "admin");
        assert_eq!(reserved[20], "www");

        // Check: always 200, read `available`.
        let check = |sub: &str| pools.call("GET", &format!("{}?sub={sub}", pools.route("check")), op, None);
        assert_eq!(
            check("acme"),
            (200, json!({"available": true, "fqdn": format!("acme.{pool}")}))
        );
        assert_eq!(check("1bad").1["reason"], "invalid-format");
        assert_eq!(check("admin").1["reason"], "reserved");
        let (status, body) = pools.call("GET", "/api/v1/pool/elsewhere.test/check?sub=acme", op, None);
        assert_eq!((status, body["reason"].as_str()), (200, Some("unsupported-pool")));

        // A zone below the pool that the pool did not make is not taken
        // over, nor removed by the reconciler.
        let foreign = pools.dir().join("taken.zone");
        std::fs::write(
            &foreign,
            format!(
                "$ORIGIN taken.{pool}.\n@ 300 SOA ns1.{pool}. h.{pool}. 1 3600 900 1209600 300\n@ 300 NS ns1.{pool}.\n"
            ),
        )
        .expect("zone file");
        pools
            .server
            .cli_ok(&["zone", "import", foreign.to_str().expect("UTF-8")]);
        assert_eq!(check("taken").1["reason"], "zone-exists");
        let (status, body) = pools.call(
            "POST",
            &pools.route("reserve"),
            op,
            Some(&json!({"subdomain": "taken"})),
        );
        assert_eq!((status, body["error"].as_str()), (409, Some("conflict")), "{body}");
        std::thread::sleep(Duration::from_millis(2500));
        assert!(
            pools.zones().contains(&format!("taken.{pool}.")),
            "the reconciler left it alone"
        );

        // Every route takes a key; a read-only key reads but never writes.
        let reserve_body = json!({"subdomain": "acme", "createdBy": "catalyst-api/deployment-7"});
        assert_eq!(pools.call("GET", &pools.route("list"), None, None).0, 401);
        assert_eq!(pools.call("GET", &pools.route("list"), Some("wrong"), None).0, 401);
        assert_eq!(pools.call("GET", &pools.route("list"), Some(READER_KEY), None).0, 200);
        let (status, body) = pools.call("POST", &pools.route("reserve"), Some(READER_KEY), Some(&reserve_body));
        assert_eq!((status, body["error"].as_str()), (403, Some("read-only-key")), "{body}");
        assert_eq!(check("acme").1["available"], true, "a refused write changed nothing");

        // Bad input: clear errors, nothing changed.
        let post = |body: &Value| pools.call("POST", &pools.route("reserve"), op, Some(body));
        let refused = [
            (post(&json!({"subdomain": "Bad_Label"})), 422, "invalid-format"),
            (post(&json!({"subdomain": "admin"})), 422, "reserved"),
            (post(&json!({"subdomain": ""})), 422, "invalid-format"),
            (
                pools.call("POST", "/api/v1/pool/elsewhere.test/reserve", op, Some(&reserve_body)),
                422,
                "unsupported-pool",
            ),
            (
                pools.raw(
                    "POST",
                    &pools.route("reserve"),
                    op,
                    Some("application/json"),
                    b"{not json",
                ),
                400,
                "invalid-body",
            ),
            (
                pools.raw(
                    "POST",
                    &pools.route("reserve"),
                    op,
                    Some("text/plain"),
                    br#"{"subdomain":"acme"}"#,
                ),
                415,
                "unsupported-media-type",
            ),
            (
                pools.raw(
                    "POST",
                    &pools.route("reserve"),
                    op,
                    Some("application/json"),
                    format!(r#"{{"subdomain":"acme","createdBy":"{}"}}"#, "x".repeat(70_000)).as_bytes(),
                ),
                413,
                "body-too-large",
            ),
        ];
        for ((status, body), expected_status, expected_error) in refused {
            assert_eq!(
                (status, body["error"].as_str()),
                (expected_status, Some(expected_error)),
                "{body}"
            );
        }
        assert_eq!(check("acme").1["available"], true, "refused requests changed nothing");

        // Reserve: 201, a v4 UUID token, the child zone signed and delegated.
        let (status, reservation) = post(&reserve_body);
        assert_eq!(status, 201, "{reservation}");
        let token = reservation["reservationToken"].as_str().expect("token").to_string();
        assert_eq!(token.len(), 36);
        assert_eq!(reservation["state"], "reserved");
        assert_eq!(reservation["createdBy"], "catalyst-api/deployment-7");
        assert!(reservation["expiresAt"].as_str().is_some_and(|at| at.ends_with('Z')));
        assert_eq!(post(&reserve_body).0, 409, "a second reserve conflicts");
        assert_eq!(check("acme").1["reason"], "reserved-state");
        let (_, list) = pools.call("GET", &pools.route("list"), Some(READER_KEY), None);
        assert_eq!(list["allocations"].as_array().map(Vec::len), Some(1));
        assert!(!list.to_string().contains(&token), "list shows a token: {list}");
        let child = format!("acme.{pool}");
        assert!(pools.zones().contains(&format!("{child}.")));
        wait_until("the child zone to be served", WAIT, || {
            pools.dig(&child, "SOA", &[]).contains("status: NOERROR")
        });
        let ns = pools.dig_short(&child, "NS");
        assert_eq!(ns, [format!("ns1.{pool}."), format!("ns2.{pool}.")]);
        wait_until("the parent to serve the child's DS", WAIT, || {
            pools.dig_short(&child, "DS").len() == 1
        });
        let ds = pools.dig(&child, "DS", &["+dnssec"]);
        assert!(
            ds.contains(&format!(" {pool}. ")),
            "the DS is signed by the parent: {ds}"
        );
        let export = pools.server.cli_ok(&["zone", "export", &pool]);
        assert!(export.contains(&format!("{child}. 3600 IN NS ns1.{pool}.")), "{export}");

        // Commit: checks first, then A records; a repeat is idempotent.
        let commit = |body: Value| pools.call("POST", &pools.route("commit"), op, Some(&body));
        let good = json!({"subdomain": "acme", "reservationToken": token,
                          "sovereignFQDN": child, "loadBalancerIP": "192.0.2.10"});
        let mut wrong_token = good.clone();
        wrong_token["reservationToken"] = json!("00000000-0000-4000-8000-000000000000");
        let mut bad_ip = good.clone();
        bad_ip["loadBalancerIP"] = json!("192.0.2.300");
        let mut no_ip = good.clone();
        no_ip["loadBalancerIP"] = json!("");
        let mut bad_fqdn = good.clone();
        bad_fqdn["sovereignFQDN"] = json!("evil.example");
        let mut missing = good.clone();
        missing["subdomain"] = json!("nobody");
        missing["sovereignFQDN"] = json!(format!("nobody.{pool}"));
        for (body, status, error) in [
            (wrong_token, 403, "token-mismatch"),
            (bad_ip, 422, "invalid-ip"),
            (no_ip, 422, "missing-lb-ip"),
            (bad_fqdn, 422, "fqdn-mismatch"),
            (missing, 404, "not-found"),
        ] {
            let (got, answer) = commit(body);
            assert_eq!((got, answer["error"].as_str()), (status, Some(error)), "{answer}");
        }
        let (status, active) = commit(good.clone());
        assert_eq!(status, 200, "{active}");
        assert_eq!(active["state"], "active");
        assert_eq!(active["loadBalancerIP"], "192.0.2.10");
        assert!(active.get("reservationToken").is_none());
        let console = format!("console.{child}");
        wait_until("console to answer", WAIT, || {
            pools.dig_short(&console, "A") == ["192.0.2.10"]
        });
        for name in [child.clone(), format!("anything.{child}"), format!("harbor.{child}")] {
            assert_eq!(pools.dig_short(&name, "A"), ["192.0.2.10"], "{name}");
        }
        assert_eq!(commit(good.clone()).0, 200, "the same commit again is fine");
        assert_eq!(check("acme").1["reason"], "active-state");
        let renew = json!({"subdomain": "acme", "reservationToken": token});
        let (status, body) = pools.call("POST", &pools.route("renew"), op, Some(&renew));
        assert_eq!((status, body["error"].as_str()), (409, Some("already-active")));

        // IPv6: AAAA instead of A.
        let mut v6 = good.clone();
        v6["loadBalancerIP"] = json!("2001:db8::10");
        assert_eq!(commit(v6).0, 200);
        wait_until("AAAA to replace A", WAIT, || {
            pools.dig_short(&console, "AAAA") == ["2001:db8::10"] && pools.dig_short(&console, "A").is_empty()
        });

        // Renew extends a reservation.
        let beta_token = pools.reserve("beta");
        let (_, before) = pools.call("GET", &pools.route("list"), op, None);
        std::thread::sleep(Duration::from_millis(1100));
        let renew = json!({"subdomain": "beta", "reservationToken": beta_token});
        let (status, renewed) = pools.call("POST", &pools.route("renew"), op, Some(&renew));
        assert_eq!(status, 200, "{renewed}");
        let before = before["allocations"]
            .as_array()
            .and_then(|list| list.iter().find(|a| a["subdomain"] == "beta"))
            .expect("beta listed")["expiresAt"]
            .clone();
        assert!(renewed["expiresAt"].as_str() > before.as_str(), "{renewed} vs {before}");
        let wrong = json!({"subdomain": "beta", "reservationToken": token});
        assert_eq!(pools.call("POST", &pools.route("renew"), op, Some(&wrong)).0, 403);

        // Release: by body or by ?sub=; DNS is clean at once.
        let (status, freed) = pools.raw("DELETE", &format!("{}?sub=acme", pools.route("release")), op, None, b"");
        assert_eq!(status, 200, "{freed}");
        assert_eq!(freed["freed"]["subdomain"], "acme");
        let (status, freed) = pools.call(
            "DELETE",
            &pools.route("release"),
            op,
            Some(&json!({"subdomain": "beta"})),
        );
        assert_eq!(status, 200, "{freed}");
        assert_eq!(freed["freed"]["state"], "reserved");
        let (status, body) = pools.call(
            "DELETE",
            &pools.route("release"),
            op,
            Some(&json!({"subdomain": "acme"})),
        );
        assert_eq!((status, body["error"].as_str()), (404, Some("not-found")));
        assert!(!pools.zones().contains(&format!("{child}.")), "no child zone left");
        wait_until("NXDOMAIN from the parent", WAIT, || {
            let answer = pools.dig(&console, "A", &[]);
            answer.contains("status: NXDOMAIN") && answer.contains(&format!("\n{pool}."))
        });
        assert!(pools.dig_short(&child, "DS").is_empty());
        assert_eq!(check("acme").1["available"], true);
        let export = pools.server.cli_ok(&["zone", "export", &pool]);
        assert!(!export.contains("acme"), "{export}");

        // The audit log names who did what, newest first.
        let (status, audit) = pools.call("GET", "/api/v1/audit?limit=50", Some(READER_KEY), None);
        assert_eq!(status, 200);
        let entries: Vec<(String, String, String, i64)> = audit["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|entry| {
                (
                    entry["key"].as_str().unwrap_or_default().to_string(),
                    entry["route"].as_str().unwrap_or_default().to_string(),
                    entry["subject"].as_str().unwrap_or_default().to_string(),
                    entry["status"].as_i64().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(entries[0], ("operator".into(), "release".into(), child.clone(), 404));
        assert!(entries.contains(&("operator".into(), "reserve".into(), child.clone(), 201)));
        assert!(entries.contains(&("operator".into(), "commit".into(), child.clone(), 200)));
        assert!(entries.contains(&("reader".into(), "reserve".into(), child.clone(), 403)));
        assert!(!audit.to_string().contains(&token));
    });
}

#[test]
fn fifty_concurrent_reserves_of_one_label_give_one_allocation() {
    on_every_backend(|options| {
        let pools = PoolServer::start("race", options);
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..50)
                .map(|_| {
                    scope.spawn(|| {
                        pools
                            .call(
                                "POST",
                                &pools.route("reserve"),
                                Some(OPERATOR_KEY),
                                Some(&json!({"subdomain": "contested"})),
                            )
                            .0
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("thread"))
                .collect()
        });
        let created = statuses.iter().filter(|status| **status == 201).count();
        let conflicts = statuses.iter().filter(|status| **status == 409).count();
        assert_eq!((created, conflicts), (1, 49), "{statuses:?}");
        let (_, list) = pools.call("GET", &pools.route("list"), Some(OPERATOR_KEY), None);
        assert_eq!(list["allocations"].as_array().map(Vec::len), Some(1));
        let journal_zone = format!("contested.{}.", pools.pool);
        assert!(pools.zones().contains(&journal_zone));
    });
}

#[test]
fn lapsed_reservations_are_swept_with_their_dns() {
    let pools = PoolServer::start(
        "lapse",
        PoolOptions {
            serve_parent: true,
            pool: "reservation_ttl = 2\n".into(),
            ..PoolOptions::default()
        },
    );
    let token = pools.reserve("brief");
    let child = format!("brief.{}.", pools.pool);
    assert!(pools.zones().contains(&child));
    std::thread::sleep(Duration::from_millis(2500));
    let (status, body) = pools.call(
        "POST",
        &pools.route("commit"),
        Some(OPERATOR_KEY),
        Some(&json!({"subdomain": "brief", "reservationToken": token, "loadBalancerIP": "192.0.2.1"})),
    );
    assert!(
        (status == 410 && body["error"] == "reservation-expired") || (status == 404 && body["error"] == "not-found"),
        "{status} {body}"
    );
    wait_until("the reconciler to sweep the lapsed reservation", WAIT, || {
        !pools.zones().contains(&child)
    });
    let export = pools.server.cli_ok(&["zone", "export", &pools.pool]);
    assert!(!export.contains("brief"), "{export}");
    // The label is free again.
    pools.reserve("brief");
}

#[test]
fn one_node_reconciles_at_a_time_and_another_takes_over() {
    let Some(url) = testkit::postgres_url("pool reconciler leadership test") else {
        return;
    };
    let leader_line = "this node now runs the pool reconciler";
    let first = PoolServer::start(
        "fleet",
        PoolOptions {
            store_url: Some(url.clone()),
            serve_parent: true,
            pool: "reservation_ttl = 2\n".into(),
            ..PoolOptions::default()
        },
    );
    let second = PoolServer::start(
        "fleet",
        PoolOptions {
            store_url: Some(url),
            domain: Some(first.pool.clone()),
            pool: "reservation_ttl = 2\n".into(),
            ..PoolOptions::default()
        },
    );
    wait_until("a node to take the reconciler lock", WAIT, || {
        first.server.log_text().contains(leader_line) || second.server.log_text().contains(leader_line)
    });
    std::thread::sleep(Duration::from_secs(2));
    let leaders = [&first, &second]
        .iter()
        .filter(|node| node.server.log_text().contains(leader_line))
        .count();
    assert_eq!(leaders, 1, "exactly one node reconciles");
    let (mut leader, follower) = if first.server.log_text().contains(leader_line) {
        (first, second)
    } else {
        (second, first)
    };
    leader.server.kill();
    wait_until("the other node to take over", WAIT, || {
        follower.server.log_text().contains(leader_line)
    });
    // The new leader reconciles: it sweeps a lapsed reservation.
    follower.reserve("brief");
    let zone = format!("brief.{}.", follower.pool);
    assert!(follower.zones().contains(&zone));
    wait_until("the new leader to sweep the lapsed reservation", WAIT, || {
        !follower.zones().contains(&zone)
    });
}
