//! Shared set-up for the integration tests: the embedded default, optionally with a
//! deliberately broken reference provider, run over real mTLS sockets.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pdp_harness::harness::config::TargetConfig;
use pdp_harness::harness::environment::Environment;
use pdp_harness::harness::testpack::TestPack;
use pdp_harness::provider::Faults;
use pdp_harness::record::redact::Redactor;
use pdp_harness::record::run::{RunRecord, ScenarioRecord, Status};
use pdp_harness::runner::{self, Pack, RunOptions, writer::Collect};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn pack() -> Arc<TestPack> {
    Arc::new(
        TestPack::load(&root().join("testpacks/integration/pack.toml"))
            .expect("the shipped pack loads"),
    )
}

pub async fn environment(faults: Faults) -> Arc<Environment> {
    environment_with(faults, &TargetConfig::default()).await
}

pub async fn environment_with(faults: Faults, config: &TargetConfig) -> Arc<Environment> {
    let pack = pack();
    let redactor = Redactor::new(pack.personal_values(), false);
    Arc::new(
        Environment::embedded(pack, config, faults, redactor)
            .await
            .expect("the embedded default starts"),
    )
}

/// Run the connection-proving features against a provider with `faults`.
pub async fn run_with(faults: Faults, out: &Path) -> RunRecord {
    run_pack(Pack::ConnectionProving, faults, out).await
}

/// Run a pack's features against a provider with `faults`.
pub async fn run_pack(pack: Pack, faults: Faults, out: &Path) -> RunRecord {
    run_pack_with(pack, faults, out, TargetConfig::default()).await
}

/// Run a pack's features against a provider with `faults`, under `config`.
pub async fn run_pack_with(
    pack: Pack,
    faults: Faults,
    out: &Path,
    config: TargetConfig,
) -> RunRecord {
    run_pack_console(pack, faults, out, config).await.0
}

/// Registrations and updates that never arrive are waited for this long (30 s in use); the
/// embedded default answers in milliseconds, and the resilience scenarios need about 2 s.
/// A registration limit the caller set itself is kept (the errors pack's no-answer case needs
/// the provider's 5 s C&A call timeout and a retry inside it).
pub fn test_limits(mut config: TargetConfig) -> TargetConfig {
    if config.limits.registration_ms
        == pdp_harness::harness::config::Limits::default().registration_ms
    {
        config.limits.registration_ms = 6_000;
    }
    config.limits.update_ms = 3_000;
    config
}

/// As [`run_pack_with`], also returning what the run printed on the console.
pub async fn run_pack_console(
    pack: Pack,
    faults: Faults,
    out: &Path,
    config: TargetConfig,
) -> (RunRecord, Vec<String>) {
    let config = test_limits(config);
    let env = environment_with(faults, &config).await;
    let result = run_on(&env, pack, out, config, None).await;
    env.shutdown();
    result.expect("the run completes")
}

/// The options of a plain run of `pack` with the built-in features, writing into `out`.
pub fn run_options(pack: Pack, out: &Path, config: TargetConfig) -> RunOptions {
    RunOptions::new(pack, root().join("features"), out.to_owned(), config)
}

/// Run a pack on an environment the caller keeps (and shuts down): two runs can meet one
/// C&A, as two runs attached to one `serve` do. `after` makes it a stage 2 `--after` run.
pub async fn run_on(
    env: &Arc<Environment>,
    pack: Pack,
    out: &Path,
    config: TargetConfig,
    after: Option<Arc<pdp_harness::harness::updates::AfterStage1>>,
) -> Result<(RunRecord, Vec<String>), runner::RunError> {
    run_on_at(env, pack, out, config, after, runner::DEFAULT_CONCURRENCY).await
}

/// As [`run_on`], with `concurrency` scenarios of a feature at once.
pub async fn run_on_at(
    env: &Arc<Environment>,
    pack: Pack,
    out: &Path,
    config: TargetConfig,
    after: Option<Arc<pdp_harness::harness::updates::AfterStage1>>,
    concurrency: usize,
) -> Result<(RunRecord, Vec<String>), runner::RunError> {
    let options = RunOptions {
        after,
        concurrency,
        ..run_options(pack, out, config)
    };
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let outcome = runner::run(env.clone(), &options, Box::new(Collect(lines.clone()))).await?;
    let printed = lines.lock().map(|l| l.clone()).unwrap_or_default();
    Ok((outcome.record, printed))
}

pub fn scenario<'a>(record: &'a RunRecord, case: &str) -> &'a ScenarioRecord {
    record
        .scenarios
        .iter()
        .find(|s| s.case_id.as_deref() == Some(case))
        .unwrap_or_else(|| panic!("scenario {case} is in the record"))
}

/// The failed step of a scenario: (step text, message).
pub fn failed_step(record: &RunRecord, case: &str) -> (String, String) {
    let s = scenario(record, case);
    assert_eq!(s.status, Status::Failed, "{case} should have failed");
    let failed: Vec<_> = s
        .steps
        .iter()
        .filter(|st| st.status == Status::Failed)
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "{case}: exactly one step fails: {failed:#?}"
    );
    (
        failed[0].text.clone(),
        failed[0].message.clone().unwrap_or_default(),
    )
}

/// The class the run recorded for a scenario's failed step.
pub fn failed_class(
    record: &RunRecord,
    case: &str,
) -> Option<pdp_harness::record::classify::FailureClass> {
    scenario(record, case)
        .steps
        .iter()
        .find(|st| st.status == Status::Failed)
        .and_then(|st| st.failure_class)
}

/// Provider-hosted view token keys: verified against the provider's own `/jwks`.
pub fn provider_hosted() -> TargetConfig {
    let mut config = TargetConfig::default();
    config.contract.view.jwks_path = Some("/jwks".to_owned());
    config
}

pub fn statuses(record: &RunRecord) -> Vec<(String, Status)> {
    record
        .scenarios
        .iter()
        .map(|s| (s.case_id.clone().unwrap_or_default(), s.status))
        .collect()
}

/// The embedded default's run-time PKI.
pub fn pki(env: &Environment) -> &pdp_harness::net::pki::TestPki {
    env.pki
        .as_ref()
        .expect("the embedded default has a run-time PKI")
}

/// The embedded default's reference provider server.
pub fn provider(env: &Environment) -> &pdp_harness::net::tls::RunningServer {
    env.provider_server
        .as_ref()
        .expect("the embedded default runs the reference provider")
}

/// stdout then stderr of a finished command, as text.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The binary, started in the project root as a user would.
pub fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_pdp-harness"));
    c.current_dir(root());
    c
}

/// The only run directory under `out`.
pub fn only_run_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("out dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "one run directory: {dirs:?}");
    dirs[0].clone()
}

/// A PDF's text as pdftotext extracts it, whitespace folded.
pub fn pdf_text(path: &Path) -> String {
    let out = std::process::Command::new("pdftotext")
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext is installed (Debian poppler-utils; .ci/run installs it)");
    assert!(out.status.success(), "pdftotext reads {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A MaPS OpenAPI file of the official specs folder, read at test time (never copied).
///
/// The folder is `PDP_SPECS_DIR` (default `../shared/specs/pdp`) as resolved by `build.rs`; tests
/// calling this carry `#[cfg_attr(pdp_specs_absent, ignore = "...")]`, so a fresh clone without
/// the folder reports them ignored rather than failed.
pub fn spec(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("PDP_SPECS_DIR_RESOLVED")).join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is readable (set PDP_SPECS_DIR to the MaPS specs folder): {e}",
            path.display()
        )
    });
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name} parses: {e}"))
}

/// Inline every local `$ref`, drop OpenAPI-only keywords (`nullable` becomes a type union), and
/// drop token-v1_2.yaml's JWT pattern, which base64url's `-` can fail by chance.
pub fn to_json_schema(doc: &serde_json::Value, node: &serde_json::Value) -> serde_json::Value {
    match node {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                let pointer = r.trim_start_matches('#');
                let target = doc
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("{r} resolves"));
                return to_json_schema(doc, target);
            }
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                match k.as_str() {
                    "example" | "examples" | "xml" | "discriminator" => {}
                    "pattern"
                        if v.as_str()
                            .is_some_and(|p| p.starts_with("^([a-zA-Z0-9_=]+)")) => {}
                    _ => {
                        out.insert(k.clone(), to_json_schema(doc, v));
                    }
                }
            }
            if out.remove("nullable") == Some(serde_json::Value::Bool(true))
                && let Some(serde_json::Value::String(t)) = out.get("type").cloned()
            {
                out.insert("type".into(), serde_json::json!([t, "null"]));
            }
            serde_json::Value::Object(out)
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(|v| to_json_schema(doc, v)).collect())
        }
        other => other.clone(),
    }
}

/// What `schema` (JSON Schema, formats checked) finds wrong with `body`, one line per error.
pub fn schema_errors(schema: &serde_json::Value, body: &serde_json::Value) -> Vec<String> {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("the schema compiles");
    validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// Wait (up to `limit`) until the run writing under `runs` has logged the find's
/// acknowledgement step, and return its run log: the moment tests stop a run mid-way.
pub fn run_log_once_acknowledged(runs: &Path, limit: std::time::Duration) -> PathBuf {
    let deadline = std::time::Instant::now() + limit;
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never reached the registration step"
        );
        let found = std::fs::read_dir(runs)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.path().join("run.log.jsonl"));
        if let Some(p) = found
            && std::fs::read_to_string(&p)
                .is_ok_and(|s| s.contains("the provider acknowledges the find request"))
        {
            return p;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The member of case CP-01, as the finder sends them.
pub fn member(env: &Environment) -> pdp_harness::protocol::contract::FindData {
    pdp_harness::protocol::contract::FindData::of(env.pack.persona("P-CP-01").expect("persona"))
}

/// A client with a provider-like certificate, to call the C&A directly.
pub fn cas_client(env: &Environment) -> reqwest::Client {
    let id = pki(env)
        .client_identity("test", "test-provider")
        .expect("cert");
    pdp_harness::net::tls::client(
        Some(&id),
        &[pki(env).ca_pem()],
        std::time::Duration::from_secs(10),
    )
    .expect("client")
}

/// A fresh canonical X-Request-ID.
pub fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The error catalogue's case ids and the stub scenario each names, from
/// `features/errors.feature` (the `(stub: …)` of each case's title).
pub fn errors_feature_cases() -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("features/errors.feature"))
        .expect("features/errors.feature");
    let re = regex::Regex::new(r"(E-[A-Z]+-\d{2}) [^|\n]*\(stub: ([^)]*)\)").expect("regex");
    re.captures_iter(&text)
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .collect()
}

/// A child process (a `serve`, a reference provider) killed when the test ends, also when an
/// assertion fails, so that none outlives its test holding the test runner's output open.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}
