//! The command line: `pooldns serve`, `pooldns zone ...`, `pooldns check-config`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::import;
use crate::name::Name;
use crate::store::{Store, WriteMode};

/// Authoritative DNS server for multi-region platforms.
#[derive(Debug, Parser)]
#[command(name = "pooldns", version, about)]
pub struct Cli {
    /// Configuration file (TOML); without it the embedded defaults apply.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
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
    /// Check the configuration and print it as understood.
    CheckConfig,
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
        /// Replace the zone if it exists (otherwise that is an error).
        #[arg(long)]
        replace: bool,
    },
    /// Print a zone as a zone file.
    Export {
        /// The zone's name.
        name: String,
    },
    /// List zones and their record counts.
    List,
    /// Delete a zone and all its records.
    Delete {
        /// The zone's name.
        name: String,
    },
}

/// Runs a command other than `serve`.
pub async fn run_zone_command(config: &Config, command: ZoneCommand) -> anyhow::Result<()> {
    let store = Store::open(&config.store.url).await?;
    let result = zone_command(&store, command).await;
    store.close().await;
    result
}

async fn zone_command(store: &Store, command: ZoneCommand) -> anyhow::Result<()> {
    match command {
        ZoneCommand::Import { file, zone, replace } => {
            let zone = zone.as_deref().map(parse_zone_name).transpose()?;
            let mode = if replace {
                WriteMode::Replace
            } else {
                WriteMode::CreateOnly
            };
            let (apex, records) = import::import_file(store, &file, zone.as_ref(), mode).await?;
            println!("imported {apex}: {records} records");
        }
        ZoneCommand::Export { name } => {
            let apex = parse_zone_name(&name)?;
            let rows = store.zone_records_by_name(&apex.to_string()).await?;
            let records =
                import::from_rows(&apex, &rows).with_context(|| format!("zone {apex} in the store is not valid"))?;
            print!("{}", import::export(&apex, &records));
        }
        ZoneCommand::List => {
            for (name, records) in store.list_zones().await? {
                println!("{name}\t{records} records");
            }
        }
        ZoneCommand::Delete { name } => {
            let apex = parse_zone_name(&name)?;
            store.delete_zone(&apex.to_string()).await?;
            println!("deleted {apex}");
        }
    }
    Ok(())
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
