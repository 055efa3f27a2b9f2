//! The command line: `pooldns serve`, `pooldns zone ...`, `pooldns check-config`.
//! Listings, in text or JSON, are in `listing`.

mod listing;
mod progress;
mod status;

pub use listing::{error_text, print_completions, print_man, Output};
pub use status::status;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use base::dnskey::{self, DigestType};
use base::name::Name;
use base::types;
use clap::{Parser, Subcommand};

use crate::catalog::Snapshot;
use crate::change::{ChangeError, ChangeSet, SerialPolicy, ZoneChange};
use crate::config::Config;
use crate::dnssec::cache::SignatureCache;
use crate::dnssec::crypto::Algorithm;
use crate::dnssec::keys::SealedKey;
use crate::dnssec::{self, KeyRole};
use crate::import;
use crate::loader;
use crate::lua;
use crate::store::{DnssecSettings, NewKey, Store};
use crate::zone::file;
use progress::Progress;

/// Authoritative DNS server for multi-region platforms.
#[derive(Debug, Parser)]
#[command(name = "pooldns", version, about)]
pub struct Cli {
    /// Configuration file (TOML); without it the embedded defaults apply.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How listings are printed: `text` for people, `json` for programs.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Answer DNS and serve the HTTP API until SIGINT or SIGTERM.
    Serve,
    /// Manage zones in the store.
    #[command(subcommand)]
    Zone(ZoneCommand),
    /// Inspect DNSSEC keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Check delegations at the parent zone.
    #[command(subcommand)]
    Delegation(DelegationCommand),
    /// Manage the TSIG keys that sign UPDATE messages.
    #[command(subcommand)]
    Tsig(TsigCommand),
    /// List pool allocations.
    #[command(subcommand)]
    Pool(PoolCommand),
    /// Summarise the running server this configuration describes: zones,
    /// failures, health checks down, rollovers, the store.
    Status,
    /// Check the configuration and print it as understood.
    CheckConfig,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; `pooldns man | man -l -`).
    Man,
}

/// `pooldns pool ...`
#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// List the allocations of every pool domain, or of one.
    List {
        /// A pool domain of `[pool] domains`.
        domain: Option<String>,
    },
}

/// Runs a `pool` command.
pub async fn run_pool_command(config: &Config, command: PoolCommand, output: Output) -> anyhow::Result<()> {
    let store = Store::open(&config.store.url).await?;
    let PoolCommand::List { domain } = command;
    // Pool domains are kept as the pool API writes them: lowercase, no final dot.
    let domains: Vec<String> = domain
        .map_or_else(|| config.pool.domains.clone(), |domain| vec![domain])
        .iter()
        .map(|domain| domain.trim().trim_end_matches('.').to_ascii_lowercase())
        .collect();
    let result = listing::pool(&store, &domains, output).await;
    store.close().await;
    result
}

/// `pooldns delegation ...`
#[derive(Debug, Subcommand)]
pub enum DelegationCommand {
    /// Ask the parent zone's servers until they delegate NAME to the
    /// expected name servers (and DS), or the deadline passes.
    Verify {
        /// The delegated domain.
        name: String,
        /// An expected name server; default: [pool] nameservers.
        #[arg(long = "ns", value_name = "HOST")]
        nameservers: Vec<String>,
        /// Also expect the DS set of the zone's keys in this store.
        #[arg(long)]
        ds: bool,
        /// A server of the parent zone to ask (repeatable); default: found
        /// through the resolver.
        #[arg(long = "parent-server", value_name = "ADDRESS:PORT")]
        parent_servers: Vec<std::net::SocketAddr>,
        /// Resolver used to find the parent's servers; default:
        /// [dnssec] parent_resolver, else /etc/resolv.conf.
        #[arg(long, value_name = "ADDRESS:PORT")]
        resolver: Option<std::net::SocketAddr>,
        /// Seconds to keep asking.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
}

/// `pooldns tsig ...`
#[derive(Debug, Subcommand)]
pub enum TsigCommand {
    /// Make a key with a random secret, store it, and print the secret:
    /// it is shown this once. `[[update.grants]]` say what it may change.
    Add {
        /// The key's name, as clients send it.
        name: String,
        /// hmac-sha256, hmac-sha512, or hmac-sha1 for old clients.
        #[arg(long, default_value = "hmac-sha256")]
        algorithm: String,
    },
    /// List the stored keys (names and algorithms; never secrets).
    List,
    /// Delete a stored key; UPDATEs signed with it are refused from then on.
    Remove {
        /// The key's name.
        name: String,
    },
}

/// Runs a `tsig` command.
pub async fn run_tsig_command(config: &Config, command: TsigCommand, output: Output) -> anyhow::Result<()> {
    use crate::update::tsig;
    let store = Store::open(&config.store.url).await?;
    let result = async {
        match command {
            TsigCommand::Add { name, algorithm } => {
                let algorithm = tsig::Algorithm::from_name(&algorithm).with_context(|| {
                    format!("unknown algorithm {algorithm:?} (hmac-sha256, hmac-sha512 or hmac-sha1)")
                })?;
                let name = tsig::key_name(&name).map_err(anyhow::Error::msg)?;
                if config
                    .tsig
                    .iter()
                    .any(|key| tsig::key_name(&key.name).ok().as_ref() == Some(&name))
                {
                    anyhow::bail!("{name} is a [[tsig]] key of the configuration");
                }
                let mut secret = vec![0u8; algorithm.secret_len()];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
                    .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
                let kek = crate::dnssec::key_encryption_key(&config.dnssec)?;
                let sealed = tsig::seal_secret(&name, &secret, kek.as_ref()).map_err(anyhow::Error::msg)?;
                store
                    .add_tsig_key(&name.to_string(), algorithm.as_str(), &sealed)
                    .await?;
                let encoded = data_encoding::BASE64.encode(&secret);
                println!("{name} {} {encoded}", algorithm.as_str());
                eprintln!(
                    "the secret is shown only now; give it to the client (nsupdate -y {}:{}:<secret>)",
                    algorithm.as_str(),
                    name.to_string().trim_end_matches('.')
                );
                Ok(())
            }
            TsigCommand::List => listing::tsig_keys(&store, output).await,
            TsigCommand::Remove { name } => {
                let name = tsig::key_name(&name).map_err(anyhow::Error::msg)?;
                store.remove_tsig_key(&name.to_string()).await?;
                println!("removed {name}");
                Ok(())
            }
        }
    }
    .await;
    store.close().await;
    result
}

/// `pooldns key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List a zone's keys: role, algorithm, tag, state, and any rollover.
    List {
        /// The zone's name.
        name: String,
    },
    /// Roll a key: a new key replaces the old one in the steps and waits of
    /// RFC 7583, carried out by the running server.
    Roll {
        /// The zone's name.
        name: String,
        /// The role to roll; default: the zone's CSK, or else its ZSK.
        #[arg(long, value_parser = ["csk", "ksk", "zsk"])]
        role: Option<String>,
    },
    /// Remove a key that is no longer needed.
    Remove {
        /// The zone's name.
        name: String,
        /// The key's id (see key list).
        id: i64,
    },
}

/// `pooldns zone ...`
#[derive(Debug, Subcommand)]
pub enum ZoneCommand {
    /// Import an RFC 1035 zone file; nothing is stored unless all of it is valid.
    Import {
        /// The zone file.
        file: PathBuf,
        /// The zone's name, when the file does not say ($ORIGIN or an absolute SOA owner).
        #[arg(long, value_name = "NAME")]
        zone: Option<String>,
        /// Replace the zone if it exists (otherwise that is an error); only
        /// the difference is written.
        #[arg(long)]
        replace: bool,
        /// How a new zone's SOA serial moves on each change: `increment`
        /// (serial + 1), `date` (YYYYMMDDnn) or `epoch` (Unix time).
        #[arg(long, value_name = "POLICY", default_value = "increment")]
        serial_policy: SerialPolicy,
    },
    /// Print a zone as a zone file.
    Export {
        /// The zone's name.
        name: String,
        /// Include what a secured zone serves: DNSKEY, CDS, CDNSKEY,
        /// RRSIG and NSEC or NSEC3, for offline verification.
        #[arg(long)]
        dnssec: bool,
    },
    /// Sign a zone: create its keys and start answering with DNSSEC.
    Secure {
        /// The zone's name.
        name: String,
        /// Signing algorithm.
        #[arg(long, default_value = "ecdsap256sha256", value_parser = ["ecdsap256sha256", "ed25519"])]
        algorithm: String,
        /// NSEC3 (RFC 5155, no extra iterations, no salt per RFC 9276) instead of NSEC.
        #[arg(long)]
        nsec3: bool,
        /// With --nsec3: leave unsigned delegations out of the chain (RFC 5155 §6).
        #[arg(long, requires = "nsec3")]
        nsec3_opt_out: bool,
        /// A KSK and a ZSK instead of one combined signing key.
        #[arg(long)]
        split: bool,
    },
    /// Print the DS records the parent zone needs.
    Ds {
        /// The zone's name.
        name: String,
        /// Digest algorithm.
        #[arg(long, default_value = "sha256", value_parser = ["sha256", "sha384"])]
        digest: String,
    },
    /// Add a secondary zone: a copy of another server's zone, kept by zone
    /// transfer (IXFR, AXFR) and NOTIFY by the running server.
    Secondary {
        /// The zone's name.
        name: String,
        /// A primary, "address" or "address:port" (port 53 by default);
        /// repeat for more, tried in order.
        #[arg(long = "primary", value_name = "ADDRESS", required = true)]
        primaries: Vec<String>,
        /// A TSIG key (`[[tsig]]` or `pooldns tsig add`) that signs the transfers.
        #[arg(long, value_name = "KEY")]
        tsig_key: Option<String>,
    },
    /// List zones and their record counts, and where secondary zones come from.
    List,
    /// Delete a zone and all its records.
    Delete {
        /// The zone's name.
        name: String,
    },
}

/// Runs a `zone` command.
pub async fn run_zone_command(config: &Config, command: ZoneCommand, output: Output) -> anyhow::Result<()> {
    let store = Store::open(&config.store.url).await?;
    let result = zone_command(config, &store, command, output).await;
    store.close().await;
    result
}

/// Runs a `delegation` command.
pub async fn run_delegation_command(config: &Config, command: DelegationCommand) -> anyhow::Result<()> {
    let DelegationCommand::Verify {
        name,
        nameservers,
        ds,
        parent_servers,
        resolver,
        timeout,
    } = command;
    let domain = registrars::DomainName::new(&name)?;
    let names = if nameservers.is_empty() {
        config.pool.nameservers.clone()
    } else {
        nameservers
    };
    if names.is_empty() {
        anyhow::bail!("no name servers to expect: pass --ns HOST or set [pool] nameservers");
    }
    let expected: Vec<registrars::NameserverName> = registrars::parse_nameservers(&names)?;
    let expected_ds = if ds {
        let store = Store::open(&config.store.url).await?;
        let apex = parse_zone_name(&name)?;
        let keys = store.zone_keys(store.zone_id(&apex.to_string()).await?).await;
        store.close().await;
        let mut records = Vec::new();
        for key in keys?.iter().filter(|key| key.ds) {
            let dnskey = key.dnskey_rdata()?;
            let rdata = dnskey::ds_rdata(apex.as_wire(), &dnskey, DigestType::Sha256);
            records.push(registrars::DsRecord::from_rdata(&rdata)?);
        }
        if records.is_empty() {
            anyhow::bail!("--ds: zone {apex} has no key the parent's DS should point at");
        }
        Some(records)
    } else {
        None
    };
    let options = registrars::VerifyOptions::default();
    let servers = if parent_servers.is_empty() {
        let resolver = resolver
            .or(config.dnssec.parent_resolver)
            .or_else(crate::roller::system_resolver)
            .ok_or_else(|| {
                anyhow::anyhow!("no resolver to find the parent's servers: pass --resolver or --parent-server")
            })?;
        registrars::find_parent_servers(resolver, &domain, &options).await?
    } else {
        parent_servers
    };
    let check = registrars::verify_delegation_with(
        &servers,
        &domain,
        &expected,
        expected_ds.as_deref(),
        std::time::Duration::from_secs(timeout),
        &options,
    )
    .await?;
    for view in &check.servers {
        let status = if view.matches { "ok" } else { "differs" };
        let ns: Vec<&str> = view.nameservers.iter().map(|name| name.as_str()).collect();
        print!("{}\t{status}\tNS {}", view.server, ns.join(" "));
        if let Some(ds) = &view.ds {
            print!(
                "\tDS {}",
                ds.iter()
                    .map(|record| record.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        match &view.error {
            Some(error) => println!("\terror: {error}"),
            None => println!(),
        }
    }
    if check.converged {
        println!(
            "{domain}: delegation in place on all {} parent servers after {} rounds",
            check.servers.len(),
            check.rounds
        );
        Ok(())
    } else {
        anyhow::bail!("{domain}: the parent's servers do not all show the expected delegation after {timeout} s")
    }
}

/// Runs a `key` command.
pub async fn run_key_command(config: &Config, command: KeyCommand, output: Output) -> anyhow::Result<()> {
    let store = Store::open(&config.store.url).await?;
    let result = match command {
        KeyCommand::List { name } => listing::keys(&store, &parse_zone_name(&name)?, output).await,
        KeyCommand::Roll { name, role } => start_roll(config, &store, &parse_zone_name(&name)?, role.as_deref()).await,
        KeyCommand::Remove { name, id } => {
            let apex = parse_zone_name(&name)?;
            store.remove_key(&apex.to_string(), id).await?;
            println!("removed key {id} of {apex}");
            Ok(())
        }
    };
    store.close().await;
    result
}

async fn zone_command(config: &Config, store: &Store, command: ZoneCommand, output: Output) -> anyhow::Result<()> {
    match command {
        ZoneCommand::Import {
            file,
            zone,
            replace,
            serial_policy,
        } => {
            let zone = zone.as_deref().map(parse_zone_name).transpose()?;
            let progress = Progress::start(format!("importing {}", file.display()), "starting");
            let imported = import::import_file(store, &file, zone.as_ref(), replace, serial_policy, &|step| {
                progress.step(step)
            })
            .await;
            drop(progress);
            let (apex, records) = match imported {
                Err(import::ImportError::Change(ChangeError::ZoneExists(name))) => {
                    anyhow::bail!("zone {name} already exists (use --replace to overwrite it)")
                }
                other => other?,
            };
            println!("imported {apex}: {records} records");
        }
        ZoneCommand::Export { name, dnssec: false } => {
            let apex = parse_zone_name(&name)?;
            let progress = Progress::start(format!("exporting {apex}"), "reading the records");
            let rows = store.zone_records_by_name(&apex.to_string()).await?;
            progress.step(format!("printing {} records", rows.len()));
            let records =
                import::from_rows(&apex, rows).with_context(|| format!("zone {apex} in the store is not valid"))?;
            let text = import::export(&apex, &records);
            drop(progress);
            print!("{text}");
        }
        ZoneCommand::Export { name, dnssec: true } => {
            let apex = parse_zone_name(&name)?;
            let progress = Progress::start(format!("exporting {apex}"), "reading and signing the records");
            let id = store.zone_id(&apex.to_string()).await?;
            let kek = crate::dnssec::key_encryption_key(&config.dnssec)?.map(Arc::new);
            // An export signs each RRset once: nothing to reuse.
            let signatures = Arc::new(SignatureCache::new(1));
            let entry_points = Arc::new(store.secure_entry_points().await?);
            // Denial records list what LUA and ALIAS records produce, as
            // served; no health check is registered nor target resolved
            // for an export.
            let computing = loader::Computing {
                lua: config.lua.enabled.then(lua::Runtime::default),
                aliases: config.dns.resolver.map(crate::alias::Aliases::new),
            };
            let securing = loader::Securing {
                kek,
                signatures,
                signing: loader::Signing::First,
            };
            let snapshot = loader::build_zone(store, id, &apex, entry_points, securing, computing).await?;
            progress.step(format!("printing {} records", snapshot.zone.record_count()));
            let text = export_signed(&snapshot)?;
            drop(progress);
            print!("{text}");
        }
        ZoneCommand::Secure {
            name,
            algorithm,
            nsec3,
            nsec3_opt_out,
            split,
        } => {
            let apex = parse_zone_name(&name)?;
            let algorithm: Algorithm = algorithm.parse()?;
            let kek = crate::dnssec::key_encryption_key(&config.dnssec)?;
            if kek.is_none() {
                eprintln!(
                    "warning: no [dnssec] key_encryption_key_file is configured: the private keys are stored unencrypted"
                );
            }
            let keys: Vec<NewKey> = dnssec::keys::new_keys(&apex, algorithm, split, kek.as_ref())?
                .iter()
                .map(SealedKey::row)
                .collect();
            let settings = DnssecSettings {
                denial: if nsec3 { "nsec3" } else { "nsec" }.to_string(),
                nsec3_opt_out,
            };
            store.secure_zone(&apex.to_string(), &settings, &keys).await?;
            println!(
                "secured {apex} with {} ({})",
                algorithm.mnemonic(),
                if nsec3 { "NSEC3" } else { "NSEC" }
            );
            listing::keys(store, &apex, Output::Text).await?;
        }
        ZoneCommand::Ds { name, digest } => {
            let apex = parse_zone_name(&name)?;
            let digest: DigestType = digest.parse()?;
            let id = store.zone_id(&apex.to_string()).await?;
            let keys = store.zone_keys(id).await?;
            if keys.is_empty() {
                anyhow::bail!("zone {apex} is not secured (run pooldns zone secure {apex})");
            }
            // The keys CDS points at: during a KSK or CSK roll, the old key
            // until the new one has been published long enough.
            for key in keys.iter().filter(|key| key.ds) {
                let dnskey = key.dnskey_rdata()?;
                let ds = dnskey::ds_rdata(apex.as_wire(), &dnskey, digest);
                println!("{}", file::format_record(&apex, DS_TTL, types::DS, &ds)?);
            }
        }
        ZoneCommand::Secondary {
            name,
            primaries,
            tsig_key,
        } => {
            let apex = parse_zone_name(&name)?;
            let mut addresses = Vec::new();
            for primary in &primaries {
                let address = crate::config::server_address(primary)
                    .with_context(|| format!("primary {primary:?} is not an address (192.0.2.1 or 192.0.2.1:53)"))?;
                addresses.push(address.to_string());
            }
            let tsig_key = match tsig_key {
                Some(key) => {
                    let key = crate::update::tsig::key_name(&key).map_err(|error| anyhow::anyhow!(error))?;
                    let configured = config.tsig.iter().any(|configured| {
                        crate::update::tsig::key_name(&configured.name).is_ok_and(|name| name == key)
                    });
                    if !configured && store.tsig_key(&key.to_string()).await?.is_none() {
                        anyhow::bail!("TSIG key {key} does not exist: add it with pooldns tsig add, or in [[tsig]]");
                    }
                    Some(key.to_string())
                }
                None => None,
            };
            let shown = addresses.join(" ");
            let primaries = crate::store::Primaries {
                addresses,
                tsig_key,
                learned_from: None,
            };
            crate::secondary::create(store, &apex.to_string(), primaries, "cli").await?;
            println!("added {apex}, a secondary of {shown}; the running server transfers it");
        }
        ZoneCommand::List => listing::zones(store, output).await?,
        ZoneCommand::Delete { name } => {
            let apex = parse_zone_name(&name)?;
            ChangeSet::new(apex.to_string(), ZoneChange::Delete, "cli")
                .apply_alone(store)
                .await?;
            println!("deleted {apex}");
        }
    }
    Ok(())
}

/// TTL printed with DS records; the parent zone sets its own.
const DS_TTL: u32 = 3600;

/// Starts a rollover of the zone's `role` key (CSK, or else ZSK, by
/// default); the server carries it out.
async fn start_roll(config: &Config, store: &Store, apex: &Name, role: Option<&str>) -> anyhow::Result<()> {
    let role: Option<KeyRole> = role.map(str::parse).transpose()?;
    let kek = crate::dnssec::key_encryption_key(&config.dnssec)?;
    let started = crate::roller::start_roll(store, apex, role, config.dnssec.propagation_delay, kek.as_ref()).await?;
    println!(
        "started a {} roll of {apex}: key {} published, replacing key {}; next step in {} s (a running pooldns serve carries it out)",
        started.role, started.new_key_id, started.old_key_id, started.wait
    );
    Ok(())
}

/// The store row of a new key.
/// The signed zone as a zone file: every RRset with its RRSIGs, and the
/// denial records, in the form a validator such as ldns-verify-zone reads.
fn export_signed(snapshot: &Snapshot) -> anyhow::Result<String> {
    let zone = &snapshot.zone;
    if snapshot.signed.is_none() {
        anyhow::bail!("zone {} is not secured", zone.apex());
    }
    let mut out = format!("$ORIGIN {}\n", zone.apex());
    let mut failed = None;
    snapshot.for_each_record(|owner, rtype, ttl, rdata| {
        let line = Name::from_wire(owner)
            .map_err(anyhow::Error::from)
            .and_then(|owner| Ok(file::format_record(&owner, ttl, rtype, rdata)?));
        match line {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
            }
            Err(error) => {
                failed.get_or_insert(error);
            }
        }
    });
    match failed {
        Some(error) => Err(error),
        None => Ok(out),
    }
}

/// A zone name from the command line: absolute or not, any case.
fn parse_zone_name(text: &str) -> anyhow::Result<Name> {
    let absolute = if text.ends_with('.') {
        text.to_string()
    } else {
        format!("{text}.")
    };
    let name: Name = absolute
        .parse()
        .map_err(|error| anyhow::anyhow!("{text:?} is not a zone name: {error}"))?;
    Ok(name.to_lowercase())
}
