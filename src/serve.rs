//! `pooldns serve`: wires the store, the loader, the DNS listeners and the
//! HTTP API together, and takes them down again on SIGINT or SIGTERM.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;

use crate::alias::Aliases;
use crate::answer::{Cookies, Responder};
use crate::api::auth::{ApiKey, ApiKeys};
use crate::api::{self, AppState};
use crate::catalog::Catalog;
use crate::change::SerialPolicy;
use crate::config::Config;
use crate::geoip::GeoDb;
use crate::health::HealthChecker;
use crate::import;
use crate::loader::{Computing, Loader};
use crate::lua;
use crate::metrics::Metrics;
use crate::pool::Pools;
use crate::roller::Roller;
use crate::server::rrl::{self, RateLimiter};
use crate::server::{tcp, udp, ListenerContext, ListenerSettings};
use crate::store::{redact_url, Store};
use crate::transfer::notify::Notifier;
use crate::transfer::TransferService;

/// Runs the server until a termination signal arrives.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let store = Store::open(&config.store.url).await?;
    tracing::info!(store = %redact_url(&config.store.url), backend = ?store.backend(), "store open");
    seed_if_empty(&store, &config.zones.directory).await?;

    let catalog = Arc::new(ArcSwap::from_pointee(Catalog::new()));
    let kek = crate::dnssec::key_encryption_key(&config.dnssec)?.map(Arc::new);
    let api_keys = config.api_keys()?;
    if api_keys.is_empty() {
        tracing::info!("no API key configured: the API answers reads from loopback only and refuses writes");
    }
    let api_keys = ApiKeys::new(api_keys.into_iter().map(ApiKey::from).collect())
        .with_failure_limit(config.api.failed_keys_per_minute);
    if kek.is_none() {
        let secured = store.secured_zones().await.context("listing secured zones")?;
        if secured.is_empty() {
            tracing::info!(
                "no [dnssec] key_encryption_key_file: private keys of zones secured later are stored unencrypted"
            );
        } else {
            tracing::warn!(
                zones = secured.len(),
                "no [dnssec] key_encryption_key_file while zones are secured: their new private keys are stored unencrypted, and sealed ones cannot be opened"
            );
        }
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    // Before the loader: building a snapshot registers its LUA records' checks.
    let health = HealthChecker::new(Some(store.clone()), config.health_check_interval())
        .await
        .context("loading health check states")?;
    let lua = lua_runtime(&config, &health)?;
    let pool_settings =
        crate::pool::Settings::from_config(&config).map_err(|error| anyhow::anyhow!("[pool]: {error}"))?;
    let pools = Pools::new(store.clone(), pool_settings, kek.clone());
    let api_kek = kek.clone();
    let update_kek = kek.clone();
    let aliases = config.dns.resolver.map(|resolver| {
        tracing::info!(%resolver, "ALIAS records answered through this resolver");
        Aliases::new(resolver)
    });
    let alias_task = aliases
        .clone()
        .map(|aliases| tokio::spawn(aliases.run(shutdown.clone())));
    let computing = Computing {
        lua,
        aliases: aliases.clone(),
    };
    let mut loader = Loader::new(store.clone(), catalog.clone(), kek, computing);
    if let Some(dir) = config.signature_cache_dir() {
        loader.keep_signatures(&dir);
    }
    // Secondaries hear of every change: those configured, and each
    // zone's ALSO-NOTIFY.
    let (notifier, changes) = Notifier::new(store.clone(), config.transfer.notify.clone());
    loader.report_changes(changes.clone());
    if let Some(name) = &config.catalog.zone {
        let absolute = if name.ends_with('.') {
            name.clone()
        } else {
            format!("{name}.")
        };
        let apex = base::name::Name::parse(&absolute, None)
            .map_err(|error| anyhow::anyhow!("[catalog] zone {name:?}: {error}"))?
            .to_lowercase();
        loader.serve_catalog_zone(apex);
    }
    tokio::spawn(notifier.run());
    // Every zone is served (SERVFAIL) while it loads, so the listeners
    // start now and each zone answers as soon as it is built.
    loader.announce().await.context("listing the zones of the store")?;
    let status = loader.status();
    let health_task = health.start(shutdown.clone());
    let poll = Duration::from_millis(config.store.poll_interval_ms);
    let loader_task = tokio::spawn(loader.run(poll, shutdown.clone()));
    // Other servers' writes wake the loader too (PostgreSQL only).
    let listen_task = tokio::spawn({
        let store = store.clone();
        let shutdown = shutdown.clone();
        async move { store.listen_for_writes(shutdown).await }
    });
    let roller = Roller::new(
        store.clone(),
        catalog.clone(),
        config.dnssec.propagation_delay,
        config.dnssec.parent_resolver,
        config.dnssec.parent_port,
    );
    let rolls = roller.status();
    let roller_task = tokio::spawn(roller.run(Duration::from_secs(1), shutdown.clone()));

    let reconciler_task = (!config.pool.domains.is_empty()).then(|| tokio::spawn(pools.clone().reconcile_forever()));

    let metrics = Metrics::new();
    let keyring = Arc::new(
        crate::update::Keyring::from_config(store.clone(), &config, update_kek)
            .map_err(|error| anyhow::anyhow!(error))?,
    );
    let updates = Arc::new(
        crate::update::UpdateService::from_config(store.clone(), &config, keyring.clone())
            .map_err(|error| anyhow::anyhow!(error))?,
    );
    let secondaries =
        crate::secondary::Secondaries::new(store.clone(), keyring.clone(), config.secondary.catalogs.clone());
    let notifies = Arc::new(crate::secondary::notify::NotifyService::new(
        store.clone(),
        keyring.clone(),
        secondaries.waker(),
    ));
    let secondary_task = tokio::spawn(secondaries.run(shutdown.clone()));
    let context = ListenerContext {
        catalog: catalog.clone(),
        responder: Responder {
            max_udp_payload: config.dns.max_udp_payload,
            ecs: config.dns.ecs,
            // Kept for the life of the process, read by every answer.
            identity: Box::leak(config.identity().into_boxed_str()),
            version: Box::leak(config.dns.version.clone().unwrap_or_default().into_boxed_str()),
            cookies: config.cookie_secret()?.map_or_else(Cookies::random, Cookies::new),
        },
        metrics: metrics.clone(),
        shutdown: shutdown.clone(),
        store_work: Arc::new(tokio::sync::Semaphore::new(crate::server::MAX_STORE_WORK)),
        updates,
        notifies,
        transfers: Arc::new(
            TransferService::from_config(store.clone(), catalog.clone(), keyring.clone(), &config.transfer)
                .map_err(|error| anyhow::anyhow!(error))?,
        ),
        rate_limiter: (config.rrl.rate > 0).then(|| {
            Arc::new(RateLimiter::new(rrl::Settings {
                rate: config.rrl.rate,
                slip: config.rrl.slip,
                // Checked when the configuration was read.
                exempt: config
                    .rrl
                    .exempt
                    .iter()
                    .filter_map(|network| network.parse().ok())
                    .collect(),
                log_only: config.rrl.log_only,
            }))
        }),
        runtime: tokio::runtime::Handle::current(),
    };
    let reannounce_task = tokio::spawn(
        crate::transfer::computed::Reannouncer::new(
            store.clone(),
            catalog.clone(),
            health.changes(),
            aliases.as_ref().map(Aliases::moves),
            context.transfers.sent_answers(),
        )
        .run(shutdown.clone()),
    );
    let settings = ListenerSettings {
        addresses: config.dns.listen.clone(),
        udp_workers: match config.dns.udp_workers {
            0 => udp::default_workers(),
            workers => workers,
        },
        tcp_idle_timeout: config.tcp_idle_timeout(),
        tcp_max_connections: config.dns.tcp_max_connections,
        tcp_max_connections_per_source: config.dns.tcp_max_connections_per_source,
        tcp_max_queries: config.dns.tcp_max_queries,
        tcp_max_connection_time: Duration::from_secs(config.dns.tcp_max_connection_time),
    };
    let mut udp_threads = Vec::new();
    let mut tcp_tasks = Vec::new();
    for &address in &settings.addresses {
        let (bound, threads) =
            udp::spawn(address, settings.udp_workers, &context).with_context(|| format!("binding UDP {address}"))?;
        udp_threads.extend(threads);
        let listener = tcp::bind(bound).with_context(|| format!("binding TCP {bound}"))?;
        tcp_tasks.push(tokio::spawn(tcp::serve(listener, settings.clone(), context.clone())));
        tracing::info!(address = %bound, udp_workers = settings.udp_workers, "answering DNS over UDP and TCP");
    }

    let listener_keys = api_keys.clone();
    let app = api::router(AppState {
        store: store.clone(),
        catalog,
        metrics,
        status,
        rolls,
        keys: api_keys,
        nameservers: Arc::new(config.pool.nameservers.clone()),
        ds_retire_delay: Duration::from_secs(config.pool.ds_retire_delay),
        registrars: Arc::new(config.registrars.clone()),
        health,
        pools,
        lua_enabled: config.lua.enabled,
        kek: api_kek,
        aliases,
        propagation_delay: config.dnssec.propagation_delay,
        keyring,
        notify: Some(changes),
    });
    let tls = match (&config.api.tls_cert_file, &config.api.tls_key_file) {
        (Some(cert), Some(key)) => Some(crate::api::tls::acceptor(cert, key)?),
        _ => None,
    };
    let http = tokio::net::TcpListener::bind(config.api.listen)
        .await
        .with_context(|| format!("binding HTTP {}", config.api.listen))?;
    tracing::info!(address = %config.api.listen, tls = tls.is_some(), "HTTP API listening");
    // Peer addresses let keyless installations answer loopback reads.
    let http_task = tokio::spawn(crate::api::listener::serve(
        http,
        tls,
        app,
        listener_keys,
        termination(),
    ));

    // The HTTP server stops on the signal itself; the rest follow it.
    if let Err(error) = http_task.await {
        tracing::error!(%error, "HTTP server task failed");
    }
    tracing::info!("shutting down");
    shutdown.store(true, Ordering::Relaxed);
    for task in tcp_tasks {
        let _ = task.await;
    }
    if let Some(task) = reconciler_task {
        task.abort();
    }
    let _ = loader_task.await;
    let _ = listen_task.await;
    let _ = roller_task.await;
    let _ = secondary_task.await;
    let _ = reannounce_task.await;
    let _ = health_task.await;
    if let Some(task) = alias_task {
        let _ = task.await;
    }
    tokio::task::spawn_blocking(move || {
        for thread in udp_threads {
            let _ = thread.join();
        }
    })
    .await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The GeoIP databases, the health checker and the settings LUA records
/// compile against; `None` when `[lua] enabled = false`.
fn lua_runtime(config: &Config, health: &HealthChecker) -> anyhow::Result<Option<lua::Runtime>> {
    if !config.lua.enabled {
        tracing::info!("LUA records disabled: they are not answered");
        return Ok(None);
    }
    let geo = if config.geoip.mmdb.is_empty() {
        None
    } else {
        let geo = GeoDb::open(&config.geoip.mmdb)?;
        for (path, kind) in geo.databases() {
            tracing::info!(file = %path.display(), kind, "GeoIP database loaded");
        }
        Some(Arc::new(geo))
    };
    Ok(Some(lua::Runtime {
        settings: Arc::new(lua::Settings {
            exec_limit: config.lua.exec_limit,
            memory_limit: config.lua.memory_limit_mb.max(1) << 20,
            health_check_interval: config.health_check_interval(),
            health_check_timeout: config.health_check_timeout(),
        }),
        geo,
        health: Some(health.clone()),
    }))
}

/// Imports every `*.zone` file of `directory` when the store has no zone,
/// so a fresh installation answers right away. A file that does not import
/// is reported and skipped; the others still load.
async fn seed_if_empty(store: &Store, directory: &Path) -> anyhow::Result<()> {
    if !store.zone_versions().await?.is_empty() {
        return Ok(());
    }
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(directory = %directory.display(), "store is empty and there is no zone directory to import");
            return Ok(());
        }
        Err(error) => return Err(error).with_context(|| format!("reading {}", directory.display())),
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "zone"))
        .collect();
    files.sort();
    for path in files {
        match import::import_file(store, &path, None, false, SerialPolicy::Increment, &|_| {}).await {
            Ok((zone, records)) => tracing::info!(%zone, records, file = %path.display(), "zone imported"),
            Err(error) => tracing::error!(%error, "zone file not imported"),
        }
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn termination() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; stopping on SIGINT only");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
