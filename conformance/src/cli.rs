//! Command-line arguments and entry points of `aresgen-hooks conformance` and
//! `aresgen-hooks receive`.

use crate::catalog::Catalog;
use crate::runner::{SuiteConfig, exit, run_suite};
use crate::secret::SecretArgs;
use crate::{receiver, report, selection};
use clap::{Args, Subcommand, ValueEnum};
use delivery_core::SigningKey;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Slow threshold used without `--slow-threshold` when `--timeout` is longer.
const DEFAULT_SLOW_THRESHOLD: Duration = Duration::from_secs(2);

pub use crate::secret::SECRET_ENV;

/// Arguments of `aresgen-hooks conformance`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ConformanceArgs {
    #[command(subcommand)]
    pub command: Option<ConformanceCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands of `conformance` that do not contact a receiver.
#[derive(Debug, Subcommand)]
pub enum ConformanceCommand {
    /// List every check with its id, severity and requirement.
    List,
    /// Show what one check sends, what passes and why.
    Explain {
        /// The check id, for example ts.004.
        id: String,
    },
}

/// Output format of the report on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Options of a conformance run.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Delivery URL of the receiver under test, e.g. http://127.0.0.1:8787/webhooks.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    #[command(flatten)]
    pub secret: SecretArgs,
    /// Base URL of the receiver's idempotency probe: GET <URL>/<event id> returns
    /// {"applied": N}. Without it the checks that need the probe are skipped.
    #[arg(long, value_name = "URL")]
    pub probe_url: Option<String>,
    /// Run only checks matching these patterns (`*` is a wildcard), e.g. sig.* or ts.004.
    /// Comma-separated or repeated.
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Leave out checks matching these patterns. Comma-separated or repeated.
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub skip: Vec<String>,
    /// Time allowed for each request: a number with unit ms, s or m (a bare number is
    /// seconds).
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Response time above which a valid delivery counts as slow (check resp.002), in the
    /// same form as --timeout and smaller than it. Default 2s, or half of --timeout when the
    /// timeout is 2s or less.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub slow_threshold: Option<Duration>,
    /// Grade missed `should` requirements as failures instead of warnings.
    #[arg(long)]
    pub strict: bool,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also write a JUnit XML report to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// Arguments of `aresgen-hooks receive`, except the secret, which the caller loads.
#[derive(Debug, Args)]
pub struct ReceiveArgs {
    /// Address to listen on, as IP:PORT. Port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    pub listen: String,
    /// Allow an address other than loopback, which exposes the receiver to the network.
    #[arg(long)]
    pub allow_non_loopback: bool,
}

/// Parses `15s`, `500ms`, `1.5s`, `2m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let (number, scale) = if let Some(number) = trimmed.strip_suffix("ms") {
        (number, 0.001)
    } else if let Some(number) = trimmed.strip_suffix('s') {
        (number, 1.0)
    } else if let Some(number) = trimmed.strip_suffix('m') {
        (number, 60.0)
    } else {
        (trimmed, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected a number with unit ms, s or m, such as 15s or 500ms"))?;
    if !value.is_finite() || value <= 0.0 {
        return Err(format!(
            "invalid duration {text:?}: it must be greater than zero"
        ));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

/// Checks that `value` is an absolute http or https URL with a host.
pub fn validate_url(option: &str, value: &str) -> Result<(), String> {
    let hint = "expected an http:// or https:// URL such as http://127.0.0.1:8787/webhooks";
    let url = reqwest::Url::parse(value)
        .map_err(|error| format!("invalid {option} {value:?}: {error}; {hint}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "invalid {option} {value:?}: scheme {:?} is not supported; {hint}",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("invalid {option} {value:?}: no host; {hint}"));
    }
    Ok(())
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(exit::USAGE)
}

fn load_catalog() -> Result<Catalog, ExitCode> {
    Catalog::builtin().map_err(|error| {
        eprintln!("error: the built-in check catalog is invalid: {error}");
        ExitCode::from(exit::USAGE)
    })
}

/// Runs `aresgen-hooks conformance`.
pub fn run_conformance(args: ConformanceArgs) -> ExitCode {
    let catalog = match load_catalog() {
        Ok(catalog) => catalog,
        Err(code) => return code,
    };
    match args.command {
        Some(ConformanceCommand::List) => {
            print!("{}", list_text(&catalog));
            ExitCode::SUCCESS
        }
        Some(ConformanceCommand::Explain { id }) => match explain_text(&catalog, &id) {
            Some(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            None => usage_error(&format!(
                "no check has the id {id:?}; `aresgen-hooks conformance list` shows the ids"
            )),
        },
        None => run_checks(&catalog, args.run),
    }
}

fn run_checks(catalog: &Catalog, args: RunArgs) -> ExitCode {
    let Some(url) = args.url else {
        return usage_error("missing --url: pass the receiver's delivery URL");
    };
    if let Err(message) = validate_url("--url", &url) {
        return usage_error(&message);
    }
    if let Some(probe_url) = &args.probe_url
        && let Err(message) = validate_url("--probe-url", probe_url)
    {
        return usage_error(&message);
    }
    let selected = match selection::select(catalog, &args.only, &args.skip) {
        Ok(selected) => selected,
        Err(error) => return usage_error(&error.to_string()),
    };
    let slow_threshold = match args.slow_threshold {
        Some(slow_threshold) if slow_threshold >= args.timeout => {
            return usage_error(&format!(
                "--slow-threshold {slow_threshold:?} is not smaller than --timeout {:?}: a delivery slower than the timeout gets no response at all, so pass a slow threshold below the timeout",
                args.timeout
            ));
        }
        Some(slow_threshold) => slow_threshold,
        None if args.timeout > DEFAULT_SLOW_THRESHOLD => DEFAULT_SLOW_THRESHOLD,
        None => args.timeout / 2,
    };
    let secret = match args.secret.load() {
        Ok(secret) => secret.expose().to_owned(),
        Err(message) => return usage_error(&message),
    };
    // The JUnit file is created before any check runs, so a bad path costs no run.
    let mut junit_file = match &args.junit {
        Some(path) => match create_report_file(path) {
            Ok(file) => Some((path, file)),
            Err(message) => return usage_error(&message),
        },
        None => None,
    };

    let config = SuiteConfig {
        url,
        secret,
        probe_url: args.probe_url,
        timeout: args.timeout,
        slow_threshold,
        strict: args.strict,
    };
    let preflight = catalog
        .checks
        .iter()
        .filter(|check| check.category == crate::catalog::PREFLIGHT_CATEGORY)
        .count();
    let others = selected
        .iter()
        .filter(|id| {
            catalog
                .get(id)
                .is_some_and(|check| check.category != crate::catalog::PREFLIGHT_CATEGORY)
        })
        .count();
    eprintln!(
        "running {preflight} preflight checks and {others} selected checks against {}",
        config.url
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(exit::UNREACHABLE);
        }
    };
    let mut run_report = runtime.block_on(run_suite(catalog, &selected, &config));

    // The JUnit file is written before stdout, so the printed exit status includes a
    // failed write.
    if let Some((path, file)) = &mut junit_file {
        let written = file
            .write_all(report::junit(&run_report).as_bytes())
            .and_then(|()| file.flush());
        if let Err(error) = written {
            run_report.output_error = Some(format!(
                "cannot write the JUnit report to {}: {error}",
                path.display()
            ));
        }
    }

    let rendered = match args.format {
        Format::Text => report::text(&run_report),
        Format::Json => report::json(&run_report),
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(rendered.as_bytes())
        .and_then(|()| stdout.flush())
    {
        eprintln!("error: cannot write the report to stdout: {error}");
    }

    if let Some(error) = &run_report.output_error {
        eprintln!("error: {error}");
    }
    if !run_report.preflight_passed {
        eprintln!(
            "error: the preflight failed, so no other check ran; see the pre.* lines of the report"
        );
    }
    ExitCode::from(run_report.exit_code())
}

/// Creates (or truncates) a report file, with an error that names the path and the fix.
fn create_report_file(path: &Path) -> Result<std::fs::File, String> {
    if let Some(directory) = path.parent()
        && !directory.as_os_str().is_empty()
        && !directory.is_dir()
    {
        return Err(format!(
            "cannot create the JUnit report {}: the directory {} does not exist: create it or pass another --junit path",
            path.display(),
            directory.display()
        ));
    }
    std::fs::File::create(path).map_err(|error| {
        format!(
            "cannot create the JUnit report {}: {error}: check the path and its permissions",
            path.display()
        )
    })
}

/// Renders `conformance list`: one line per check, grouped by category.
pub fn list_text(catalog: &Catalog) -> String {
    let mut out = String::new();
    for category in &catalog.categories {
        out.push_str(&format!("{} ({})\n", category.title, category.name));
        for check in catalog
            .checks
            .iter()
            .filter(|c| c.category == category.name)
        {
            out.push_str(&format!(
                "  {:<10} {:<6} {}\n",
                check.id, check.severity, check.requirement
            ));
        }
    }
    out.push_str(&format!("{} checks\n", catalog.checks.len()));
    out
}

/// Renders `conformance explain ID`, or `None` for an unknown id.
pub fn explain_text(catalog: &Catalog, id: &str) -> Option<String> {
    let check = catalog.get(id)?;
    let title = catalog
        .categories
        .iter()
        .find(|category| category.name == check.category)
        .map_or(check.category.as_str(), |category| category.title.as_str());
    let mut out = format!(
        "{} ({title}, {})\n  requirement: {}\n",
        check.id, check.severity, check.requirement
    );
    if let Some(why) = &check.why {
        out.push_str(&format!("  why:         {why}\n"));
    }
    out.push_str(&format!("  sends:       {}\n", check.send.describe()));
    out.push_str(&format!("  passes when: {}\n", check.describe_pass()));
    Some(out)
}

/// Runs `aresgen-hooks receive` until interrupted. `load_key` loads the endpoint secret
/// after the listen address is validated, and its error is printed as a usage error.
pub fn run_receive(
    args: ReceiveArgs,
    load_key: impl FnOnce() -> Result<SigningKey, String>,
) -> ExitCode {
    let addr: SocketAddr = match args.listen.parse() {
        Ok(addr) => addr,
        Err(_) => {
            return usage_error(&format!(
                "invalid --listen {:?}: expected IP:PORT such as 127.0.0.1:8787",
                args.listen
            ));
        }
    };
    if !addr.ip().is_loopback() && !args.allow_non_loopback {
        return usage_error(&format!(
            "refusing to listen on {addr}: it is not a loopback address, so anyone who can reach it could send deliveries; pass --allow-non-loopback to listen there anyway"
        ));
    }
    let key = match load_key() {
        Ok(key) => key,
        Err(message) => return usage_error(&message),
    };

    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve_reference(addr, key))
}

async fn serve_reference(addr: SocketAddr, key: SigningKey) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let bound = listener.local_addr().unwrap_or(addr);
    // Tests and scripts read these lines to find the port chosen for port 0.
    println!("listening on http://{bound}{}", receiver::DELIVERY_PATH);
    println!(
        "idempotency probe at http://{bound}{}",
        receiver::PROBE_PATH
    );
    let _ = std::io::stdout().flush();
    tracing::info!(%bound, "reference receiver started");

    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("interrupt received; stopping");
    };
    match axum::serve(listener, receiver::router_with_key(key))
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => {
            tracing::info!("reference receiver stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "reference receiver failed");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn url_validation_names_value() {
        assert!(validate_url("--url", "http://127.0.0.1:8787/webhooks").is_ok());
        let error = validate_url("--url", "127.0.0.1:8787").unwrap_err();
        assert!(error.contains("\"127.0.0.1:8787\""), "{error}");
        let error = validate_url("--url", "ftp://127.0.0.1/x").unwrap_err();
        assert!(error.contains("ftp"), "{error}");
    }

    #[test]
    fn explain_shows_requirement_and_request() {
        let catalog = Catalog::builtin().unwrap();
        let text = explain_text(&catalog, "ts.004").unwrap();
        assert!(text.contains("310 s in the past"), "{text}");
        assert!(text.contains("4xx"), "{text}");
        assert!(explain_text(&catalog, "ts.999").is_none());
    }
}
