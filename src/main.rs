//! The `pooldns` binary: parse the command line, set up logging, run.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use pooldns::cli::{Cli, Command};
use pooldns::config::Config;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("POOLDNS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve => runtime.block_on(pooldns::serve::run(config)),
        Command::Zone(command) => runtime.block_on(pooldns::cli::run_zone_command(&config, command)),
        Command::Key(command) => runtime.block_on(pooldns::cli::run_key_command(&config, command)),
        Command::Tsig(command) => runtime.block_on(pooldns::cli::run_tsig_command(&config, command)),
        Command::Delegation(command) => runtime.block_on(pooldns::cli::run_delegation_command(&config, command)),
        Command::CheckConfig => {
            println!("{config:#?}");
            Ok(())
        }
    }
}
