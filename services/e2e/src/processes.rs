//! The whole stack as REAL PROCESSES — the debug binaries of `ingestion-control`,
//! `source-fetcher`, `gateway` and `replay-server` — so fault tests can `kill -9`,
//! SIGTERM and restart them, and stop the shared PostgreSQL and RabbitMQ under them.
//!
//! Each stack gets a fresh database, its own exchange (so its own queues) and free
//! ports; every process gets its environment set explicitly (nothing inherited but
//! `PATH`) and logs to `target/fault-logs/<test>/<process>.log`. Binaries come from
//! `FAULT_BIN_DIR` (default `<workspace>/target/debug`; build them with
//! `cargo build --workspace --bins`). Every wait is bounded and names what it waited for.

use platform::Source;
use platform::auth::Role;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use test_support::{JWT_SECRET, TestDatabase, WORKER_TOKEN};
use tokio::process::{Child, Command};
use tokio::time::Instant;
use uuid::Uuid;

/// How long a process may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a process may take to exit after SIGTERM (then it is killed).
const TERM_TIMEOUT: Duration = Duration::from_secs(15);

pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `FAULT_BIN_DIR`, default `<workspace>/target/debug`.
pub fn bin_dir() -> PathBuf {
    std::env::var_os("FAULT_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target/debug"))
}

/// A free local port (bound, then released for the process to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

/// How to tell a process is ready.
#[derive(Debug, Clone)]
pub enum Ready {
    /// `GET url` answers 200.
    Http(String),
    /// Something accepts connections on the address.
    Tcp(SocketAddr),
}

/// How to start a process: binary, arguments, the complete environment, readiness.
#[derive(Debug, Clone)]
pub struct Spec {
    pub bin: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub ready: Ready,
}

impl Spec {
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.env.insert(key.to_owned(), value.into());
        self
    }

    pub fn unset(&mut self, key: &str) -> &mut Self {
        self.env.remove(key);
        self
    }
}

/// One running (or exited) process.
pub struct Proc {
    pub name: String,
    pub spec: Spec,
    pub log: PathBuf,
    child: Child,
    /// Set once the exit status has been collected.
    exited: Option<ExitStatus>,
}

impl Proc {
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The exit status, if the process has exited (non-blocking).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }
}

/// The last `lines` lines of a log file (for failure messages).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Knobs of a process stack.
#[derive(Debug, Clone)]
pub struct ProcessOptions {
    /// One fetcher per entry is started with the stack.
    pub fetchers: Vec<Source>,
    /// Extra (or overriding) environment of ingestion-control.
    pub control_env: Vec<(String, String)>,
    /// Extra (or overriding) environment of every fetcher.
    pub fetcher_env: Vec<(String, String)>,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        ProcessOptions {
            fetchers: Source::ALL.to_vec(),
            control_env: Vec::new(),
            fetcher_env: Vec::new(),
        }
    }
}

/// `<SOURCE>_` prefix of a source's client settings.
pub fn env_prefix(source: Source) -> &'static str {
    match source {
        Source::OpenAlex => "OPENALEX",
        Source::Pubmed => "PUBMED",
        Source::Arxiv => "ARXIV",
        Source::SemanticScholar => "SEMANTIC_SCHOLAR",
    }
}

/// The replay server's path segment of a source.
fn replay_segment(source: Source) -> &'static str {
    match source {
        Source::SemanticScholar => "s2",
        other => other.as_str(),
    }
}

/// A run's row as the fault tests check it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub source: String,
    pub status: String,
    pub papers_found: i64,
    pub papers_imported: i64,
    pub pages_done: i32,
    pub claims: i32,
    pub attempt: i32,
    pub error_message: Option<String>,
    pub lease_owner: Option<String>,
}

const RUN_COLUMNS: &str = "id, organization_id, source, status, papers_found, papers_imported, \
     pages_done, claims, attempt, error_message, lease_owner";

pub struct ProcessStack {
    pub test: String,
    pub log_dir: PathBuf,
    pub bin_dir: PathBuf,
    /// The stack's own database (the test's pool onto it: `pool`).
    pub database_url: String,
    pub pool: PgPool,
    pub exchange: String,
    pub replay_url: String,
    pub control_grpc_addr: SocketAddr,
    pub control_metrics_addr: SocketAddr,
    pub gateway_url: String,
    pub http: reqwest::Client,
    procs: BTreeMap<String, Proc>,
    fetcher_env: Vec<(String, String)>,
    next_fetcher: usize,
    database: TestDatabase,
    torn_down: bool,
}

impl ProcessStack {
    /// Starts the replay server, ingestion-control (fresh database, own exchange,
    /// small lease and reconcile intervals), the gateway and the requested fetchers,
    /// and waits until each is ready.
    pub async fn start(test: &str, options: ProcessOptions) -> ProcessStack {
        let bin_dir = bin_dir();
        for bin in [
            "ingestion-control",
            "source-fetcher",
            "gateway",
            "replay-server",
        ] {
            assert!(
                bin_dir.join(bin).is_file(),
                "{} is missing: run `cargo build --workspace --bins` (or set FAULT_BIN_DIR)",
                bin_dir.join(bin).display()
            );
        }
        let log_dir = std::env::var_os("FAULT_LOG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_dir().join("target/fault-logs"))
            .join(test);
        let _ = std::fs::remove_dir_all(&log_dir);
        std::fs::create_dir_all(&log_dir).expect("create the fault-log directory");

        let database = TestDatabase::create().await;
        let pool = PgPool::connect(&database.url)
            .await
            .expect("the test database");
        let replay_port = free_port();
        let control_port = free_port();
        let control_metrics_port = free_port();
        let gateway_port = free_port();
        let mut stack = ProcessStack {
            test: test.to_owned(),
            log_dir,
            bin_dir,
            database_url: database.url.clone(),
            pool,
            exchange: test_support::unique_exchange(),
            replay_url: format!("http://127.0.0.1:{replay_port}"),
            control_grpc_addr: SocketAddr::from(([127, 0, 0, 1], control_port)),
            control_metrics_addr: SocketAddr::from(([127, 0, 0, 1], control_metrics_port)),
            gateway_url: format!("http://127.0.0.1:{gateway_port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("HTTP client"),
            procs: BTreeMap::new(),
            fetcher_env: options.fetcher_env.clone(),
            next_fetcher: 0,
            database,
            torn_down: false,
        };

        let replay = Spec {
            bin: "replay-server".into(),
            args: vec![
                "--addr".into(),
                format!("127.0.0.1:{replay_port}"),
                "--fixtures".into(),
                crate::fixtures_dir().display().to_string(),
            ],
            env: base_env(),
            ready: Ready::Http(format!("{}/healthz", stack.replay_url)),
        };
        stack.spawn("replay-server", replay).await;

        let mut control = stack.control_spec();
        for (k, v) in &options.control_env {
            control.set(k, v.clone());
        }
        stack.spawn("ingestion-control", control).await;

        let mut gateway = Spec {
            bin: "gateway".into(),
            args: vec![],
            env: base_env(),
            ready: Ready::Http(format!("{}/readyz", stack.gateway_url)),
        };
        gateway
            .set("GATEWAY_ADDR", format!("127.0.0.1:{gateway_port}"))
            .set(
                "CONTROL_GRPC_URL",
                format!("http://{}", stack.control_grpc_addr),
            )
            .set("JWT_SECRET", JWT_SECRET);
        stack.spawn("gateway", gateway).await;

        for source in options.fetchers {
            stack.start_fetcher(source).await;
        }
        stack
    }

    /// ingestion-control's environment in this stack (before test overrides).
    pub fn control_spec(&self) -> Spec {
        let mut spec = Spec {
            bin: "ingestion-control".into(),
            args: vec![],
            env: base_env(),
            ready: Ready::Http(format!("http://{}/readyz", self.control_metrics_addr)),
        };
        spec.set("DATABASE_URL", self.database_url.clone())
            .set("AMQP_URL", test_support::amqp_url())
            .set("AMQP_EXCHANGE", self.exchange.clone())
            .set("CONTROL_GRPC_ADDR", self.control_grpc_addr.to_string())
            .set("METRICS_ADDR", self.control_metrics_addr.to_string())
            .set("JWT_SECRET", JWT_SECRET)
            .set("WORKER_TOKEN", WORKER_TOKEN)
            .set("LEASE_SECS", "3")
            .set("RECONCILE_INTERVAL_SECS", "1")
            .set("REPUBLISH_AFTER_SECS", "2")
            .set("PUBLISH_TIMEOUT_MS", "2000");
        spec
    }

    /// A fetcher's environment in this stack: every source's client points at the
    /// replay server at 100 requests per second (arXiv's 1 per 3 s overridden).
    pub fn fetcher_spec(&self, source: Source) -> Spec {
        let metrics_port = free_port();
        let mut spec = Spec {
            bin: "source-fetcher".into(),
            args: vec!["--source".into(), source.as_str().into()],
            env: base_env(),
            ready: Ready::Http(format!("http://127.0.0.1:{metrics_port}/readyz")),
        };
        spec.set("AMQP_URL", test_support::amqp_url())
            .set("AMQP_EXCHANGE", self.exchange.clone())
            .set(
                "CONTROL_GRPC_URL",
                format!("http://{}", self.control_grpc_addr),
            )
            .set("WORKER_TOKEN", WORKER_TOKEN)
            .set("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
            .set("HEARTBEAT_SECS", "1");
        for s in Source::ALL {
            let p = env_prefix(s);
            spec.set(
                &format!("{p}_BASE_URL"),
                format!("{}/{}", self.replay_url, replay_segment(s)),
            )
            .set(&format!("{p}_REQUESTS_PER_SECOND"), "100");
        }
        for (k, v) in &self.fetcher_env {
            spec.set(k, v.clone());
        }
        spec
    }

    /// Starts one more fetcher of `source`; returns its name (`fetcher-<source>-<n>`).
    pub async fn start_fetcher(&mut self, source: Source) -> String {
        let spec = self.fetcher_spec(source);
        self.start_fetcher_with(source, spec).await
    }

    /// Starts `spec` as the next fetcher of `source`. Its `HOSTNAME` is its name, so
    /// its worker id (the `lease_owner` of the runs it holds) is
    /// `<source>-<name>-<uuid>`.
    pub async fn start_fetcher_with(&mut self, source: Source, mut spec: Spec) -> String {
        self.next_fetcher += 1;
        let name = format!("fetcher-{}-{}", source.as_str(), self.next_fetcher);
        spec.set("HOSTNAME", name.clone());
        self.spawn(&name, spec).await;
        name
    }

    /// The running fetcher whose worker id is `lease_owner`, if any.
    pub fn fetcher_owning(&mut self, lease_owner: &str) -> Option<String> {
        let names: Vec<String> = self
            .procs
            .keys()
            .filter(|n| n.starts_with("fetcher-"))
            .cloned()
            .collect();
        names
            .into_iter()
            .find(|n| lease_owner.contains(&format!("-{n}-")) && self.is_running(n))
    }

    /// Names of the fetchers of `source` still running.
    pub fn fetchers_of(&mut self, source: Source) -> Vec<String> {
        let prefix = format!("fetcher-{}-", source.as_str());
        self.procs
            .iter_mut()
            .filter(|(n, _)| n.starts_with(&prefix))
            .filter_map(|(n, p)| p.try_exit().is_none().then(|| n.clone()))
            .collect()
    }

    /// Spawns `spec` as `name` (replacing an exited process of that name) and waits
    /// until it is ready; panics with the log's tail if it is not.
    pub async fn spawn(&mut self, name: &str, spec: Spec) {
        if let Some(old) = self.procs.get_mut(name) {
            assert!(
                old.try_exit().is_some(),
                "{name} is still running; stop it before spawning it again"
            );
        }
        let log = self.log_dir.join(format!("{name}.log"));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the process log");
        {
            use std::io::Write as _;
            let _ = writeln!(
                file,
                "===== fault suite: starting {name} ({} {}) =====",
                spec.bin,
                spec.args.join(" ")
            );
        }
        let stderr = file.try_clone().expect("clone the log handle");
        let child = Command::new(self.bin_dir.join(&spec.bin))
            .args(&spec.args)
            .env_clear()
            .envs(&spec.env)
            // No `.env` is picked up from here.
            .current_dir(&self.log_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name} ({}): {e}", spec.bin));
        let ready = spec.ready.clone();
        self.procs.insert(
            name.to_owned(),
            Proc {
                name: name.to_owned(),
                spec,
                log,
                child,
                exited: None,
            },
        );
        self.wait_ready(name, &ready, READY_TIMEOUT).await;
    }

    async fn wait_ready(&mut self, name: &str, ready: &Ready, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let probe = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("HTTP client");
        loop {
            let ok = match ready {
                Ready::Http(url) => probe
                    .get(url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success()),
                Ready::Tcp(addr) => tokio::net::TcpStream::connect(addr).await.is_ok(),
            };
            if ok {
                return;
            }
            let proc = self.procs.get_mut(name).expect("spawned");
            if let Some(status) = proc.try_exit() {
                panic!(
                    "{name} exited ({status}) before it was ready ({ready:?}); log {}:\n{}",
                    proc.log.display(),
                    log_tail(&proc.log, 30)
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "{name} not ready ({ready:?}) within {timeout:?}; log {}:\n{}",
                    proc.log.display(),
                    log_tail(&proc.log, 30)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn proc(&mut self, name: &str) -> &mut Proc {
        self.procs
            .get_mut(name)
            .unwrap_or_else(|| panic!("no process named {name}"))
    }

    /// The pid of every process that is still running (by name).
    pub fn pids(&mut self) -> BTreeMap<String, Option<u32>> {
        self.procs
            .iter_mut()
            .filter_map(|(n, p)| p.try_exit().is_none().then(|| (n.clone(), p.pid())))
            .collect()
    }

    /// Waits until every running process reports ready (e.g. after the broker came
    /// back); returns the names of those still not ready after `timeout`.
    pub async fn not_ready_after(&mut self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let probe = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("HTTP client");
        let mut pending: Vec<(String, Ready)> = self
            .procs
            .iter_mut()
            .filter_map(|(n, p)| {
                p.try_exit()
                    .is_none()
                    .then(|| (n.clone(), p.spec.ready.clone()))
            })
            .collect();
        loop {
            let mut still = Vec::new();
            for (name, ready) in pending {
                let ok = match &ready {
                    Ready::Http(url) => probe
                        .get(url)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success()),
                    Ready::Tcp(addr) => tokio::net::TcpStream::connect(addr).await.is_ok(),
                };
                if !ok {
                    still.push((name, ready));
                }
            }
            if still.is_empty() || Instant::now() > deadline {
                return still.into_iter().map(|(n, _)| n).collect();
            }
            pending = still;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn log_of(&self, name: &str) -> PathBuf {
        self.log_dir.join(format!("{name}.log"))
    }

    pub fn is_running(&mut self, name: &str) -> bool {
        self.proc(name).try_exit().is_none()
    }

    /// `kill -9`: no clean-up at all. Returns once the process is gone.
    pub async fn kill9(&mut self, name: &str) -> ExitStatus {
        let proc = self.proc(name);
        if let Some(status) = proc.try_exit() {
            return status;
        }
        let _ = proc.child.start_kill();
        self.wait_exit(name, Duration::from_secs(10)).await
    }

    /// SIGTERM (the graceful path), killed if it has not exited within 15 s.
    pub async fn terminate(&mut self, name: &str) -> ExitStatus {
        let proc = self.proc(name);
        if let Some(status) = proc.try_exit() {
            return status;
        }
        if let Some(pid) = proc.pid() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let deadline = Instant::now() + TERM_TIMEOUT;
        loop {
            let proc = self.proc(name);
            if let Some(status) = proc.try_exit() {
                return status;
            }
            if Instant::now() > deadline {
                eprintln!("{name} ignored SIGTERM for {TERM_TIMEOUT:?}; killing it");
                return self.kill9(name).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the process to exit by itself; panics (naming it) after `timeout`.
    pub async fn wait_exit(&mut self, name: &str, timeout: Duration) -> ExitStatus {
        let proc = self.proc(name);
        match tokio::time::timeout(timeout, proc.child.wait()).await {
            Ok(Ok(status)) => {
                proc.exited = Some(status);
                status
            }
            Ok(Err(e)) => panic!("waiting for {name} to exit: {e}"),
            Err(_) => panic!(
                "{name} did not exit within {timeout:?}; log {}:\n{}",
                proc.log.display(),
                log_tail(&proc.log, 20)
            ),
        }
    }

    /// SIGTERM, then the same process again (same spec, same ports).
    pub async fn restart(&mut self, name: &str) {
        self.restart_with(name, |_| {}).await;
    }

    /// Stops the process (if running), edits its spec, starts it again.
    pub async fn restart_with(&mut self, name: &str, edit: impl FnOnce(&mut Spec)) {
        self.terminate(name).await;
        let mut spec = self.proc(name).spec.clone();
        edit(&mut spec);
        self.spawn(name, spec).await;
    }

    /// Injects a fault into the replay server (`POST /_admin/faults`).
    pub async fn inject(&self, fault: Value) {
        let res = self
            .http
            .post(format!("{}/_admin/faults", self.replay_url))
            .json(&fault)
            .send()
            .await
            .expect("replay server reachable");
        assert!(
            res.status().is_success(),
            "injecting {fault} answered {}",
            res.status()
        );
    }

    /// The replay server's request log, every source's records in one list (each
    /// names its `source`, `query` and `status`).
    pub async fn replay_requests(&self) -> Vec<Value> {
        let log: Value = self
            .http
            .get(format!("{}/_admin/requests", self.replay_url))
            .send()
            .await
            .expect("replay server reachable")
            .json()
            .await
            .expect("request log is JSON");
        match log {
            // `{"openalex": [...], "pubmed": [...], ...}`
            Value::Object(by_source) => by_source
                .into_iter()
                .flat_map(|(_, records)| match records {
                    Value::Array(records) => records,
                    _ => Vec::new(),
                })
                .collect(),
            Value::Array(records) => records,
            other => panic!("unexpected request log: {other}"),
        }
    }

    /// A client of the gateway that can be moved into other tasks.
    pub fn api(&self) -> Api {
        Api {
            http: self.http.clone(),
            gateway_url: self.gateway_url.clone(),
        }
    }

    /// `POST /papers/ingest/{source}/async` as a member of `org` (see [`Api::start_run`]).
    pub async fn start_run(
        &self,
        org: Uuid,
        source: Source,
        query: &str,
        max_results: u32,
    ) -> (u16, Value) {
        self.api().start_run(org, source, query, max_results).await
    }

    /// Starts a run and returns its id, asserting 202.
    pub async fn start_ok(&self, org: Uuid, source: Source, query: &str, max: u32) -> Uuid {
        let (status, body) = self.start_run(org, source, query, max).await;
        assert_eq!(
            status, 202,
            "start {source} {query:?} answered {status}: {body}"
        );
        body["ingest_run_id"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .unwrap_or_else(|| panic!("202 without an ingest_run_id: {body}"))
    }

    /// The run's row (retrying briefly while the database is restarting).
    pub async fn run(&self, id: Uuid) -> RunRow {
        self.query_runs(
            &format!("SELECT {RUN_COLUMNS} FROM ingest_runs WHERE id = $1"),
            Some(id),
        )
        .await
        .pop()
        .unwrap_or_else(|| panic!("run {id} is not in the database"))
    }

    pub async fn all_runs(&self) -> Vec<RunRow> {
        self.query_runs(
            &format!("SELECT {RUN_COLUMNS} FROM ingest_runs ORDER BY created_at"),
            None,
        )
        .await
    }

    async fn query_runs(&self, sql: &str, id: Option<Uuid>) -> Vec<RunRow> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut q = sqlx::query_as::<_, RunRow>(sqlx::AssertSqlSafe(sql.to_owned()));
            if let Some(id) = id {
                q = q.bind(id);
            }
            match q.fetch_all(&self.pool).await {
                Ok(rows) => return rows,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("reading runs failed ({e}); retrying");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => panic!("reading runs: {e}"),
            }
        }
    }

    /// Polls the database until `done(run)` holds for the run, or panics after
    /// `timeout` naming `what` and the run's last state.
    pub async fn wait_run(
        &self,
        id: Uuid,
        what: &str,
        timeout: Duration,
        done: impl Fn(&RunRow) -> bool,
    ) -> RunRow {
        let deadline = Instant::now() + timeout;
        loop {
            let run = self.run(id).await;
            if done(&run) {
                return run;
            }
            if Instant::now() > deadline {
                panic!("waited {timeout:?} for run {id} to be {what}; it is {run:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_terminal(&self, id: Uuid, timeout: Duration) -> RunRow {
        self.wait_run(id, "terminal", timeout, |r| is_terminal(&r.status))
            .await
    }

    /// Waits until no run of the stack is `queued` or `running`; panics after
    /// `timeout` listing the open ones.
    pub async fn wait_all_terminal(&self, timeout: Duration) -> Vec<RunRow> {
        let deadline = Instant::now() + timeout;
        loop {
            let runs = self.all_runs().await;
            let open: Vec<&RunRow> = runs.iter().filter(|r| !is_terminal(&r.status)).collect();
            if open.is_empty() {
                return runs;
            }
            if Instant::now() > deadline {
                panic!(
                    "waited {timeout:?} for every run to finish; {} of {} still open, e.g. {:#?}",
                    open.len(),
                    runs.len(),
                    &open[..open.len().min(5)]
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The database-wide invariants of "nothing lost": for every id column no
    /// organisation holds two papers with the same value; every run's
    /// `papers_imported` equals its imported link rows and `papers_found` its link
    /// rows. Returns the violations (empty: all hold).
    pub async fn invariant_violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        for column in ["doi", "openalex_id", "pmid", "pmcid", "arxiv_id", "s2_id"] {
            let dups: Vec<(Uuid, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT organization_id, {column}, count(*) FROM papers
                  WHERE {column} IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1 LIMIT 5"
            )))
            .fetch_all(&self.pool)
            .await
            .expect("duplicate query");
            for (org, value, n) in dups {
                out.push(format!("{n} papers of org {org} share {column} {value}"));
            }
        }
        let counts: Vec<(Uuid, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT r.id, r.status, r.papers_found, r.papers_imported,
                    (SELECT count(*) FROM run_papers rp WHERE rp.run_id = r.id),
                    (SELECT count(*) FROM run_papers rp WHERE rp.run_id = r.id AND rp.imported)
               FROM ingest_runs r",
        )
        .fetch_all(&self.pool)
        .await
        .expect("counter query");
        for (id, status, found, imported, links, imported_links) in counts {
            if imported != imported_links {
                out.push(format!(
                    "run {id} ({status}): papers_imported {imported} but {imported_links} imported link rows"
                ));
            }
            if found != links {
                out.push(format!(
                    "run {id} ({status}): papers_found {found} but {links} link rows"
                ));
            }
        }
        out
    }

    /// Terminates every process, drops the topology and the database.
    pub async fn teardown(mut self) {
        let names: Vec<String> = self.procs.keys().cloned().collect();
        // Fetchers first (they hand their runs back), the replay server last.
        let order = names
            .iter()
            .filter(|n| n.starts_with("fetcher-"))
            .chain(names.iter().filter(|n| n.as_str() == "gateway"))
            .chain(names.iter().filter(|n| n.as_str() == "ingestion-control"))
            .chain(names.iter().filter(|n| n.as_str() == "replay-server"));
        for name in order.cloned().collect::<Vec<_>>() {
            self.terminate(&name).await;
        }
        self.pool.close().await;
        remove_test_data(&self.exchange, &self.database).await;
        self.torn_down = true;
    }
}

/// Deletes a stack's queues and exchanges and drops its database (best effort).
async fn remove_test_data(exchange: &str, database: &TestDatabase) {
    if let Ok(Ok(conn)) = tokio::time::timeout(
        Duration::from_secs(5),
        lapin::Connection::connect(
            &test_support::amqp_url(),
            lapin::ConnectionProperties::default(),
        ),
    )
    .await
        && let Ok(channel) = conn.create_channel().await
    {
        test_support::delete_topology(&channel, exchange).await;
        let _ = conn.close(200, "done".into()).await;
    }
    database.drop().await;
}

impl Drop for ProcessStack {
    /// A test that panicked before `teardown()`: kill the processes and remove the
    /// queues and the database anyway (on a thread of its own, bounded to 20 s).
    fn drop(&mut self) {
        if self.torn_down {
            return;
        }
        for proc in self.procs.values_mut() {
            let _ = proc.child.start_kill();
        }
        let exchange = self.exchange.clone();
        let database = TestDatabase {
            name: self.database.name.clone(),
            url: self.database.url.clone(),
        };
        let cleanup = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(20),
                        remove_test_data(&exchange, &database),
                    )
                    .await;
                });
            }
        });
        let _ = cleanup.join();
    }
}

/// The gateway's start endpoint, for load drivers running in their own tasks.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub gateway_url: String,
}

impl Api {
    /// `POST /papers/ingest/{source}/async` as a member of `org`: status and body
    /// (`Value::Null` when the body is not JSON). A transport error is status 0.
    pub async fn start_run(
        &self,
        org: Uuid,
        source: Source,
        query: &str,
        max_results: u32,
    ) -> (u16, Value) {
        let res = self
            .http
            .post(format!(
                "{}/papers/ingest/{}/async",
                self.gateway_url,
                source.path_segment()
            ))
            .bearer_auth(crate::token(org, Role::Member))
            .json(&json!({"query": query, "max_results": max_results}))
            .send()
            .await;
        match res {
            Ok(res) => {
                let status = res.status().as_u16();
                (status, res.json().await.unwrap_or(Value::Null))
            }
            Err(e) => (0, json!({"transport_error": e.to_string()})),
        }
    }
}

pub fn is_terminal(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled")
}

/// The environment every process starts from: `PATH` and logging, nothing else.
fn base_env() -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert(
        "PATH".into(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
    );
    env.insert(
        "RUST_LOG".into(),
        std::env::var("FAULT_RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn,lapin=warn".into()),
    );
    env.insert("RUST_BACKTRACE".into(), "1".into());
    env
}

/// Runs a maintenance command synchronously (also from `Drop`); returns whether it
/// succeeded, printing its output otherwise.
pub fn run_command(program: &str, args: &[&str]) -> bool {
    let started = std::time::Instant::now();
    match std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => {
            eprintln!(
                "[fault suite] {program} {} -> {} in {:?}",
                args.join(" "),
                out.status,
                started.elapsed()
            );
            if !out.status.success() {
                eprintln!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            out.status.success()
        }
        Err(e) => {
            eprintln!("[fault suite] {program} could not run: {e}");
            false
        }
    }
}

async fn run_command_async(program: &'static str, args: &'static [&'static str]) -> bool {
    tokio::task::spawn_blocking(move || run_command(program, args))
        .await
        .unwrap_or(false)
}

const PG_CTL: &str = "pg_ctlcluster";
const PG_STOP: &[&str] = &[
    "--skip-systemctl-redirect",
    "15",
    "main",
    "stop",
    "-m",
    "fast",
];
const PG_START: &[&str] = &["--skip-systemctl-redirect", "15", "main", "start"];
const RABBITMQCTL: &str = "rabbitmqctl";
const RABBIT_STOP: &[&str] = &["stop_app"];
const RABBIT_START: &[&str] = &["start_app"];

/// Which shared server an [`Outage`] stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Postgres,
    RabbitMq,
}

/// A stopped shared server. `end()` starts it again; if the test panics first,
/// `Drop` starts it synchronously, so the machine's PostgreSQL and RabbitMQ are
/// always restored.
pub struct Outage {
    server: Server,
    restored: bool,
}

impl Outage {
    /// Stops `server`; panics if it cannot (after trying to start it again).
    pub async fn begin(server: Server) -> Outage {
        let outage = Outage {
            server,
            restored: false,
        };
        let (program, args) = outage.stop_command();
        assert!(
            run_command_async(program, args).await,
            "could not stop {server:?}"
        );
        outage
    }

    fn stop_command(&self) -> (&'static str, &'static [&'static str]) {
        match self.server {
            Server::Postgres => (PG_CTL, PG_STOP),
            Server::RabbitMq => (RABBITMQCTL, RABBIT_STOP),
        }
    }

    fn start_command(&self) -> (&'static str, &'static [&'static str]) {
        match self.server {
            Server::Postgres => (PG_CTL, PG_START),
            Server::RabbitMq => (RABBITMQCTL, RABBIT_START),
        }
    }

    /// Starts the server again and waits (bounded) until it accepts clients.
    pub async fn end(mut self) {
        let (program, args) = self.start_command();
        let started = run_command_async(program, args).await;
        self.restored = true;
        assert!(started, "could not start {:?} again", self.server);
        wait_server_up(self.server, Duration::from_secs(30)).await;
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        if !self.restored {
            let (program, args) = self.start_command();
            eprintln!("[fault suite] restoring {:?} after a failure", self.server);
            run_command(program, args);
        }
    }
}

/// Waits until `server` accepts a client (a query, an AMQP connection).
pub async fn wait_server_up(server: Server, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let up = match server {
            Server::Postgres => match tokio::time::timeout(
                Duration::from_secs(2),
                PgPool::connect(&test_support::admin_url()),
            )
            .await
            {
                Ok(Ok(pool)) => {
                    let ok = sqlx::query("SELECT 1").execute(&pool).await.is_ok();
                    pool.close().await;
                    ok
                }
                _ => false,
            },
            Server::RabbitMq => match tokio::time::timeout(
                Duration::from_secs(2),
                lapin::Connection::connect(
                    &test_support::amqp_url(),
                    lapin::ConnectionProperties::default(),
                ),
            )
            .await
            {
                Ok(Ok(conn)) => {
                    let _ = conn.close(200, "probe".into()).await;
                    true
                }
                _ => false,
            },
        };
        if up {
            return;
        }
        if Instant::now() > deadline {
            panic!("{server:?} did not accept clients within {timeout:?} after restarting");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
