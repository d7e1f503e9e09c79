//! `clavis-local`: the whole API on one machine. `make run` starts `serve`; `make dev-token`
//! prints management tokens for the local identity provider.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use clavis_core::store::EventFeed;
use clavis_core::store::{SharedStore, memory::MemoryStore};
use clavis_core::sweep::Sweeper;
use clavis_core::time::{Clock, SystemClock};
use clavis_core::token::KeySet;
use clavis_core::token::keys::{KeyAlgorithm, SigningKey};
use clavis_dynamodb::schema::ensure_table;
use clavis_dynamodb::stream::StreamFeed;
use clavis_local::dynamodb_local::{DynamoDbLocal, Storage, repo_root};
use clavis_local::events::InProcessEvents;
use clavis_local::gateway::{Bound, CONSOLE_PATH, Gateway};
use clavis_local::idp::{DevClaims, LocalIdp, persistent_key, persistent_pepper};
use clavis_local::upstream::{API_PREFIX, PlatformApi, Upstream};
use clavis_runtime::compose::Deployment;
use clavis_runtime::config::{ConfigError, Env, StoreSettings, retention};
use clavis_runtime::webhooks::webhook_url_key;

#[derive(Parser)]
#[command(
    name = "clavis-local",
    about = "Run Clavis locally, the way API Gateway and Lambda run it",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// Where DynamoDB Local's data and the development keys are kept.
    #[arg(long, env = "CLAVIS_DATA_DIR", default_value = ".data", global = true)]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a command, `clavis-local` serves.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Args)]
struct ServeArgs {
    #[arg(long, env = "PORT", default_value_t = 3000)]
    port: u16,
    /// `dynamodb` runs DynamoDB Local (needs Java 17+); `memory` keeps everything in memory.
    #[arg(long, env = "STORE", value_enum, default_value_t = StoreKind::Dynamodb)]
    store: StoreKind,
    #[arg(long, env = "TABLE_NAME", default_value = "clavis-local")]
    table: String,
    /// Use a DynamoDB (Local) that is already running at this URL instead of starting one.
    #[arg(long, env = "DYNAMODB_ENDPOINT")]
    dynamodb_endpoint: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every route on 127.0.0.1 (the default command).
    Serve(ServeArgs),
    /// Print a management token signed by the local identity provider.
    DevToken {
        #[arg(long, env = "TENANT", default_value = "demo")]
        tenant: String,
        /// admin, advisor, or any other role (which may manage nothing).
        #[arg(long, env = "ROLE", default_value = "admin")]
        role: String,
        /// Tenants an advisor manages, comma-separated.
        #[arg(long, env = "ADVISES", value_delimiter = ',')]
        advises: Vec<String>,
        #[arg(long, env = "SUBJECT", default_value = "dev-user")]
        subject: String,
        #[arg(long, default_value_t = 12)]
        hours: i64,
    },
    /// Run one expiry sweep now, against the DynamoDB Local a running `serve` uses (or one
    /// started for the purpose on the same data), and print what it did.
    Sweep {
        #[arg(long, env = "TABLE_NAME", default_value = "clavis-local")]
        table: String,
        /// Use a DynamoDB (Local) that is already running at this URL.
        #[arg(long, env = "DYNAMODB_ENDPOINT")]
        dynamodb_endpoint: Option<String>,
    },
    /// Print the public JWKS of signing keys given as PEM files (current first, then the
    /// previous one if any): the value of the SSM parameter that every function but
    /// issue-token reads its keys from (README: Deploying to AWS).
    PublicKeys {
        /// RS256 (default), ES256 or EdDSA, as the deployment's `SigningAlgorithm`.
        #[arg(long, env = "SIGNING_ALGORITHM", default_value = "RS256")]
        algorithm: String,
        /// The current key's PKCS#8 PEM file.
        current: PathBuf,
        /// The previous key's, while tokens it signed are still valid.
        previous: Option<PathBuf>,
    },
    /// Run DynamoDB Local alone (data under the data directory) until stopped, printing its
    /// endpoint: for tools and benchmarks that outlive one gateway.
    Dynamodb {
        /// Keep nothing on disk (benchmarks: no fsync per write, as in DynamoDB proper).
        #[arg(long)]
        in_memory: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum StoreKind {
    Dynamodb,
    Memory,
}

/// What keeps `clavis-local` from starting, said so a newcomer knows what to do.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(
        "cannot use {path} as the data directory: {reason}.\nSet CLAVIS_DATA_DIR to a folder you can write (default: .data in the current directory)"
    )]
    DataDir { path: String, reason: String },
    #[error(
        "port {port} on 127.0.0.1 is already in use (is another `make run` serving?).\nStop what holds it, or choose another port: PORT={next} make run",
        next = .port.saturating_add(1)
    )]
    PortTaken { port: u16 },
    #[error(
        "cannot listen on 127.0.0.1:{port}: {source}.\nChoose another port: PORT=3001 make run"
    )]
    Listen { port: u16, source: std::io::Error },
}

type Failure = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::from)
        .and_then(|runtime| runtime.block_on(run(cli)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The message and its causes as sentences, never a Debug dump.
            eprintln!("clavis-local: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                eprintln!("  because: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

/// The data directory made absolute once, here, so that nothing started in another working
/// directory (DynamoDB Local runs in its jar's folder) reads a relative path elsewhere.
fn resolve_data_dir(dir: &Path) -> Result<PathBuf, StartError> {
    let failed = |reason: String| StartError::DataDir {
        path: dir.display().to_string(),
        reason,
    };
    let absolute = std::path::absolute(dir).map_err(|e| failed(e.to_string()))?;
    if absolute.exists() && !absolute.is_dir() {
        return Err(failed("it is a file, not a folder".into()));
    }
    std::fs::create_dir_all(&absolute).map_err(|e| failed(e.to_string()))?;
    Ok(absolute)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let cli = Cli {
        data_dir: resolve_data_dir(&cli.data_dir)?,
        ..cli
    };
    match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::DevToken {
            tenant,
            role,
            advises,
            subject,
            hours,
        } => {
            let idp = LocalIdp::load_or_create(&cli.data_dir)?;
            let claims = DevClaims {
                sub: subject,
                role,
                tenant: Some(tenant),
                advises: advises.into_iter().filter(|a| !a.is_empty()).collect(),
            };
            println!("{}", idp.mint(&claims, hours)?);
            Ok(())
        }
        Command::Serve(args) => serve(cli.data_dir, args).await,
        Command::PublicKeys {
            algorithm,
            current,
            previous,
        } => {
            let algorithm = algorithm.parse::<KeyAlgorithm>()?;
            let key = |path: &Path| -> Result<SigningKey, Failure> {
                let pem = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                Ok(SigningKey::from_pem(algorithm, &pem)?)
            };
            let keys = KeySet::new(key(&current)?, previous.as_deref().map(key).transpose()?)?;
            println!("{}", serde_json::to_string(&keys.public().jwks())?);
            Ok(())
        }
        Command::Sweep {
            table,
            dynamodb_endpoint,
        } => sweep_once(&cli.data_dir, &table, dynamodb_endpoint).await,
        Command::Dynamodb { in_memory } => {
            let storage = if in_memory {
                Storage::InMemory
            } else {
                Storage::Directory(cli.data_dir.join("dynamodb"))
            };
            let local = DynamoDbLocal::start(storage).await?;
            println!("{}", local.endpoint());
            shutdown_signal().await;
            local.stop();
            Ok(())
        }
    }
}

/// Where a running `serve` notes its DynamoDB Local, so `clavis-local sweep` reaches the same
/// data (one data directory takes one DynamoDB Local at a time).
fn endpoint_file(data_dir: &Path) -> PathBuf {
    data_dir.join("dynamodb.endpoint")
}

/// `RUST_LOG`'s directives, with every library capped at INFO as in the functions
/// ([`clavis_runtime::telemetry::capped`]): the gateway's `hyper` would otherwise log requests,
/// `Authorization` headers included, at TRACE.
fn init_logs() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let directives = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn")
    });
    let cap = clavis_runtime::telemetry::capped(tracing_subscriber::filter::LevelFilter::TRACE);
    tracing_subscriber::registry()
        .with(directives)
        .with(cap)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .compact(),
        )
        .init();
}

async fn sweep_once(data_dir: &Path, table: &str, endpoint: Option<String>) -> Result<(), Failure> {
    init_logs();
    let retention = retention(&Env::from_process())?;
    let endpoint = endpoint.or_else(|| {
        std::fs::read_to_string(endpoint_file(data_dir))
            .ok()
            .map(|e| e.trim().to_owned())
    });
    let running = match endpoint {
        Some(endpoint) => {
            let settings = StoreSettings::local(&endpoint, table).with_retention(retention);
            let answers = settings.client().await.list_tables().limit(1).send().await;
            answers.is_ok().then_some(settings)
        }
        None => None,
    };
    let (settings, local) = match running {
        Some(settings) => (settings, None),
        None => {
            let local = DynamoDbLocal::start(Storage::Directory(data_dir.join("dynamodb"))).await?;
            (
                local.store_settings(table).with_retention(retention),
                Some(local),
            )
        }
    };
    ensure_table(&settings.client().await, table).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store: SharedStore = Arc::new(settings.dynamo_store(Arc::clone(&clock)).await);
    let report = Sweeper::new(store, clock, retention.expiry_notice)
        .sweep_and_log(None)
        .await;
    if let Some(local) = local {
        local.stop();
    }
    println!("{}", serde_json::to_string_pretty(&report?)?);
    Ok(())
}

async fn serve(data_dir: PathBuf, args: ServeArgs) -> Result<(), Failure> {
    let ServeArgs {
        port,
        store: kind,
        table,
        dynamodb_endpoint,
    } = args;
    init_logs();
    // The port first: a taken port should not wait for DynamoDB Local to start.
    let bound = Bound::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => StartError::PortTaken { port },
            _ => StartError::Listen { port, source },
        })?;
    let idp = Arc::new(LocalIdp::load_or_create(&data_dir)?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut env = Env::from_process();
    let retention = retention(&env)?;
    // Endpoint URLs sealed under a key kept beside the data, so that one run's endpoints are
    // read by the next.
    if env.optional("WEBHOOK_URL_KEY").is_none() {
        env = env.with(
            "WEBHOOK_URL_KEY",
            persistent_pepper(&data_dir.join("webhook-url-key"))?,
        );
    }
    let region = env.optional("AWS_REGION").unwrap_or("us-east-1").to_owned();
    let webhook_urls = webhook_url_key(&env, &region).await?;
    type Feed = Arc<dyn EventFeed>;
    let (store, feed, dynamodb, described): (SharedStore, Feed, Option<DynamoDbLocal>, String) =
        match kind {
            StoreKind::Memory => {
                let memory = Arc::new(MemoryStore::new(Arc::clone(&clock), retention));
                (
                    memory.clone(),
                    memory,
                    None,
                    "in memory (gone when it stops)".into(),
                )
            }
            StoreKind::Dynamodb => {
                let (settings, local) = match dynamodb_endpoint {
                    Some(endpoint) => (
                        StoreSettings::local(&endpoint, &table).with_retention(retention),
                        None,
                    ),
                    None => {
                        eprintln!(
                            "Starting DynamoDB Local (data in {})…",
                            data_dir.join("dynamodb").display()
                        );
                        let local =
                            DynamoDbLocal::start(Storage::Directory(data_dir.join("dynamodb")))
                                .await?;
                        std::fs::write(endpoint_file(&data_dir), local.endpoint())?;
                        (
                            local.store_settings(&table).with_retention(retention),
                            Some(local),
                        )
                    }
                };
                ensure_table(&settings.client().await, &table).await?;
                let described = format!(
                    "DynamoDB Local at {}, table {table}",
                    settings.endpoint.as_deref().unwrap_or_default()
                );
                let feed =
                    StreamFeed::new(settings.client().await, settings.streams_client(), &table);
                (
                    Arc::new(
                        settings
                            .dynamo_store(Arc::clone(&clock))
                            .await
                            .with_webhook_url_key(webhook_urls),
                    ),
                    Arc::new(feed),
                    local,
                    described,
                )
            }
        };
    // Access tokens are signed with a development key kept beside the data; the issuer is
    // this gateway, so discovery and the JWKS are served where the tokens say.
    let (_, signing_pem) =
        persistent_key(&data_dir.join("dev-signing-key.pem"), KeyAlgorithm::Rs256)?;
    let mut env = env
        .with("TOKEN_ISSUER", bound.url())
        .with("SIGNING_KEY_PEM", signing_pem);
    if env.optional("IDEMPOTENCY_PEPPER").is_none() {
        env = env.with(
            "IDEMPOTENCY_PEPPER",
            persistent_pepper(&data_dir.join("idempotency-pepper"))?,
        );
    }
    if env.optional("TOKEN_AUDIENCE").is_none() {
        env = env.with("TOKEN_AUDIENCE", "clavis-api");
    }
    // Signing secrets sealed under a key kept beside the data, so that endpoints registered in
    // one run still sign in the next.
    if env.optional("WEBHOOK_SEALING_KEY").is_none() {
        env = env.with(
            "WEBHOOK_SEALING_KEY",
            persistent_pepper(&data_dir.join("webhook-sealing-key"))?,
        );
    }
    // A receiver on this machine is what local webhooks are for.
    if env.optional("WEBHOOK_ALLOW_PRIVATE").is_none() {
        env = env.with("WEBHOOK_ALLOW_PRIVATE", "true");
    }
    let every = Duration::from_secs(60 * env.number("SWEEP_INTERVAL_MINUTES", 15u64)?.max(1));
    let Deployment {
        routed,
        authorizer,
        sweeper,
        webhook_settings,
        sealing,
    } = Deployment::build(store.clone(), Arc::clone(&clock), &env).await?;
    // The table's stream to webhook deliveries, in this process (Lambda and SQS in AWS).
    let events = InProcessEvents::start(feed, store, &webhook_settings, sealing, clock)?;
    // The platform's API behind the request authorizer, when there is one to front.
    let platform = match env.optional("CLAVIS_UPSTREAM") {
        None => None,
        Some(url) => {
            let upstream = Upstream::parse(url)
                .map_err(|problem| ConfigError::new("CLAVIS_UPSTREAM", problem))?;
            let authorizer = authorizer.ok_or_else(|| {
                ConfigError::new("ROUTE_SCOPES", "is required with CLAVIS_UPSTREAM")
            })?;
            Some(PlatformApi::new(authorizer, upstream))
        }
    };
    let platform_line = match env.optional("CLAVIS_UPSTREAM") {
        Some(upstream) => format!(
            "The platform's API (ROUTE_SCOPES) behind the request authorizer:\n\n  {url}{API_PREFIX}/… → {upstream}/…\n\n",
            url = bound.url()
        ),
        None => String::new(),
    };
    // The sweeper on its schedule, as EventBridge runs it in AWS (first run at start).
    let schedule = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            // A failed sweep is logged by sweep_and_log; the next tick starts where it stopped.
            let _report = sweeper.sweep_and_log(None).await;
        }
    });
    let console = repo_root().join("console").join("dist");
    let console_built = console.join("index.html").is_file();
    let mut gateway = Gateway::new(routed, Arc::clone(&idp)).with_console(console);
    if let Some(platform) = platform {
        gateway = gateway.with_platform_api(platform);
    }
    let gateway = bound.serve(gateway);
    let admin = DevClaims {
        sub: "dev-admin".into(),
        role: "admin".into(),
        tenant: Some("demo".into()),
        advises: Vec::new(),
    };
    let token = idp.mint(&admin, 12)?;
    let console_line = if console_built {
        format!(
            "The admin console for tenant \"demo\":\n\n  {url}{CONSOLE_PATH}#token={token}\n\n",
            url = gateway.url()
        )
    } else {
        String::new()
    };
    let banner = format!(
        "\nClavis is serving on {url}\n  store: {described}\n\nAn admin token for tenant \"demo\" (valid 12 hours):\n\n  export CLAVIS_URL={url}\n  export TOKEN={token}\n\n{console_line}{platform_line}Other callers: make dev-token TENANT=acme ROLE=advisor ADVISES=acme,globex\nStop with Ctrl-C.\n\n",
        url = gateway.url(),
    );
    // In one write, and a closed standard output (`make run | head`) is no reason to stop
    // serving: `println!` would panic on it.
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush())
    {
        tracing::warn!(error = %e, "the banner could not be written to standard output");
    }
    drop(stdout);
    shutdown_signal().await;
    eprintln!("Stopping…");
    schedule.abort();
    gateway.stop().await;
    events.stop().await;
    if let Some(local) = dynamodb {
        // Only a hint for `clavis-local sweep`, which checks that the endpoint answers anyway.
        let _ = std::fs::remove_file(endpoint_file(&data_dir));
        local.stop();
    }
    Ok(())
}

async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match terminate.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
    }
}
