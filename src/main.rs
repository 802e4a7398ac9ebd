//! The `gauntlet` command line: parses arguments, calls the library, maps
//! errors to exit codes. Nothing else lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use gauntlet::evaluate::Lane;
use gauntlet::pipeline::{self, RunOptions};
use gauntlet::report::terminal;
use gauntlet::{exit_code, Error};

#[derive(Parser)]
#[command(name = "gauntlet", version, about = "CI conformance and calibration harness for LLM security gates")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LaneArg {
    Preflight,
    Full,
}

impl From<LaneArg> for Lane {
    fn from(l: LaneArg) -> Lane {
        match l {
            LaneArg::Preflight => Lane::Preflight,
            LaneArg::Full => Lane::Full,
        }
    }
}

fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("`{s}` is not a YYYY-MM-DD date"))
}

#[derive(Subcommand)]
enum Command {
    /// Replay the corpora through the target and judge the gates.
    Run {
        /// The project config.
        #[arg(long, default_value = "gauntlet.toml")]
        config: PathBuf,
        /// Write reports here instead of the config's reports folder.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "full")]
        lane: LaneArg,
        /// No progress bar and no table; the exit code still tells.
        #[arg(long, short)]
        quiet: bool,
        /// Judge waivers as of this date (YYYY-MM-DD); also GAUNTLET_TODAY.
        #[arg(long, value_parser = parse_date)]
        today: Option<chrono::NaiveDate>,
    },
    /// Print the JSON Schema of verdict.json.
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            let code = match e.downcast_ref::<Error>() {
                Some(err) => err.exit_code(),
                None => exit_code::TARGET_ERROR,
            };
            eprintln!("{e:#}");
            ExitCode::from(code as u8)
        }
    }
}

fn execute(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Run { config, out, lane, quiet, today } => {
            let output = pipeline::run(&RunOptions { config, out_dir: out, lane: lane.into(), quiet, today })?;
            if !quiet {
                print!("{}", terminal::render(&output.verdict));
                println!("reports: {}", output.reports_dir.display());
            }
            Ok(output.verdict.exit_code)
        }
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&gauntlet::report::verdict_schema())?);
            Ok(exit_code::PASS)
        }
    }
}
