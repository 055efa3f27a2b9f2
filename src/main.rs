//! The `pooldns` binary: parse the command line, read the configuration,
//! set up logging, run.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use pooldns::cli::{self, Cli, Command};
use pooldns::config::{Config, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // These need no configuration.
        Command::Completions { shell } => {
            cli::print_completions(shell);
            Ok(())
        }
        Command::Man => cli::print_man().map_err(anyhow::Error::from),
        _ => Config::load(cli.config.as_deref())
            .map_err(anyhow::Error::from)
            .and_then(|config| {
                init_logging(config.log.format);
                run(cli, config)
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", cli::error_text(&error));
            ExitCode::FAILURE
        }
    }
}

/// Log lines go to standard error, filtered by `POOLDNS_LOG` (default
/// `info`), as text (coloured on a terminal) or as JSON objects.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("POOLDNS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).init(),
    }
}

fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let output = cli.output;
    match cli.command {
        Command::Serve => runtime.block_on(pooldns::serve::run(config)),
        Command::Zone(command) => runtime.block_on(cli::run_zone_command(&config, command, output)),
        Command::Key(command) => runtime.block_on(cli::run_key_command(&config, command, output)),
        Command::Tsig(command) => runtime.block_on(cli::run_tsig_command(&config, command, output)),
        Command::Pool(command) => runtime.block_on(cli::run_pool_command(&config, command, output)),
        Command::Delegation(command) => runtime.block_on(cli::run_delegation_command(&config, command)),
        Command::Status => runtime.block_on(cli::status(&config, output)),
        Command::CheckConfig => {
            println!("{config:#?}");
            Ok(())
        }
        Command::Completions { .. } | Command::Man => unreachable!("handled without a configuration"),
    }
}
