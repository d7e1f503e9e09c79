//! `clavis`: manage Clavis API credentials and get access tokens from the command line.

mod args;
mod commands;
mod config;
mod dev_token;
mod error;
mod output;
mod secret_file;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let json = cli.global.json;
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            error::report(&failure.error, &failure.context, json);
            ExitCode::from(failure.error.exit_code())
        }
    }
}
