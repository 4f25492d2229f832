//! `pdp-harness init`: a commented example target file and the CDA-side material it names, so
//! an organisation starts from something that loads and only fills in its own endpoints.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::cda::service::{GeneratedCdaPki, INIT_VALIDITY_DAYS};
use crate::net::pki::PkiError;

pub const TARGET_FILE: &str = "target.toml";

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0} exists; use --force to overwrite it")]
    Exists(PathBuf),
    #[error("could not write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("--cda-host {0:?} is not a host name")]
    BadHost(String),
}

/// The example target file; `{host}` and `{port}` are filled in.
const EXAMPLE: &str = r#"# pdp-harness target file: run the PDP integration test packs against your own solution.
#
#   pdp-harness serve  --target target.toml   # the harness's C&A on its own: configure your solution against it
#   pdp-harness doctor --target target.toml   # certificates, handshakes, JWKS, clock, clear-down: in seconds
#   pdp-harness run --pack all --target target.toml
#
# Paths are relative to this file. Private keys may instead come from the environment:
# client_key = "env:PDP_CLIENT_KEY" reads the PEM text from that variable (for CI secret stores).
# Never put a secret on the command line. Unknown keys are errors, with their line.

# ---------------------------------------------------------------------------------------------
# Who is tested. The personas, members and pensions come from the test pack (--testpacks DIR);
# these replace the pack's holdername GUID and scheme name with yours.
[organisation]
name = "Example Pensions Ltd"                             # CHANGE: shown on the evidence cover
holdername_guid = "6f1c0f2e-8c5a-4d0e-9a43-2b7d9e0c1a55"  # CHANGE: your holdername GUID
# scheme_name = "Example Workplace Pension Scheme"

# ---------------------------------------------------------------------------------------------
# Your solution: where the harness sends find and view requests, and how it proves itself.
[provider]
find_url = "https://find.pensions.example.org"        # CHANGE: base URL; the find path is appended
view_url = "https://view.pensions.example.org"        # CHANGE: base URL; the dashboard requests
                                                      #   {view_url}/view-data/{assetGuid}?scope=owner
                                                      #   (README: "Target file and the wire contracts")
client_cert = "harness-client.pem"                    # the harness's client certificate (trust cda-ca.pem for it)
client_key = "harness-client.key"                     # or "env:PDP_HARNESS_CLIENT_KEY"
ca_bundle = "org-ca.pem"                              # CHANGE: CA(s) that issued your servers' certificates
# Your view data token signing key(s) as registered with PDP (public key PEM, with its kid). The
# harness's C&A publishes them at /jwk_uri, where the live dashboard verifies view data tokens.
# To rotate, register the next key beside the current one, then switch. Or: view_token_jwks = "FILE".
view_token_keys = [{ file = "view-token-1.pem", kid = "view-token-1" }]   # CHANGE
# The public key(s) your solution signs its own PAT assertions with (iss and sub = your
# holdername GUID, aud = the C&A's token URL, at most 5 minutes, a fresh jti), to get a fresh PAT
# after one expired and for stage 2 updates (README: "Implementing against the CDA").
# pat_assertion_keys = [{ file = "pat-1.pem", kid = "pat-1" }]
# A command (no shell) that restarts your find/view service and returns once it serves again: the
# restart case E-RST-01 (--pack resilience) needs it, and is not applicable without it.
# restart = ["/opt/pensions/bin/restart-find-service"]
# restart_timeout_secs = 120

# How your test data is cleared down before each stage: an HTTP call (POST, mTLS with the
# harness's client certificate) or a command run without a shell. One of the two.
[clear_down]
url = "https://view.pensions.example.org/test-support/clear-down"   # CHANGE
# command = ["/opt/pensions/bin/clear-test-data", "--env", "pdp-test"]
# timeout_secs = 120

# Stage 2: after stage 1 the harness writes match-updates.json into the run's evidence folder
# (PDP emails it). Apply it in your system, then `pdp-harness run --pack stage2 --after <run id>`.
# To apply it within one `run --pack all`, name a command (no shell): it gets the file's path as
# its last argument and in PDP_MATCH_UPDATES; exit 0 means applied; its output goes in the evidence.
# The errors pack's match-update cases (E-UPD-01..14) need it, and are not applicable without it.
# [updates]
# command = ["/opt/pensions/bin/apply-match-updates"]
# timeout_secs = 300

# ---------------------------------------------------------------------------------------------
# The harness's simulated CDA: your solution calls its C&A (token, perm, introspect, rreguri) and
# verifies its tokens with its JWKS. `pdp-harness serve` prints the URLs to configure.
[cda]
listen = "{listen}:{port}"{listen_pad}# where the C&A listens{listen_note}
public_url = "https://{host}:{port}"       # how your solution reaches it; also the as_uri it must send
server_cert = "cda-server.pem"             # valid for {host}
server_key = "cda-server.key"              # or "env:PDP_CDA_SERVER_KEY"
server_ca = "cda-ca.pem"                   # give this CA to your solution to trust
client_ca = "org-ca.pem"                   # CHANGE: CA(s) that issued your solution's client certificate
signing_key = "cda-signing.key"            # RSA key signing find request tokens, PATs, tickets, RPTs
signing_kid = "pdp-harness-cda-1"
# The C&A keeps its state (registrations, PATs, tickets, the audit's log) in this SQLite file,
# so serve can restart and stage 2 run later; clear-down empties it. Default shown.
# state_file = ".pdp-harness/cda.sqlite"

# ---------------------------------------------------------------------------------------------
# Timing limits the verdicts are judged against (milliseconds). Defaults shown.
[limits]
acknowledgement_ms = 2000         # find request -> acknowledgement
registration_ms = 30000           # find request -> each PeI registration
view_response_ms = 10000          # view request -> response (the reporting 10 s threshold)
registration_settle_ms = 300      # after the expected registrations, watch for extra ones
no_match_watch_ms = 1500          # after a no-match find, watch for registrations that must not come
update_ms = 30000                 # after match updates are applied, wait for each at the C&A

# ---------------------------------------------------------------------------------------------
# Reporting (the reporting pack, part of --pack all). Against your solution its data comes from
# your own system's exports; without this section --pack all leaves reporting out and says so.
# Uncomment and fill in to rehearse it:
# [reporting]
# base_url = "https://reporting.preprod.example"   # omit to submit to the harness's simulator
# client_cert = "org-reporting-client.pem"         # with base_url: your PDP client certificate
# client_key = "env:PDP_REPORTING_KEY"             #   its key (a file path, or env:NAME)
# ca_bundle = "reporting-ca.pem"                   #   the CA of the reporting API's server
# expected_minutes = 15                            # UTC-day guard budget (simulator: 1)
# submission_status = "on time"                    # or "late"
# [reporting.sources]                              # per endpoint: "file:PATH" (your export,
#                                                  # JSON or CSV) or "null" (the minimal valid set);
#                                                  # "derived" works only on the embedded default
# service-availability-find = "file:exports/find-availability.csv"
# service-availability-view = "file:exports/view-availability.csv"
# view-response-request-number = "file:exports/request-number.json"
# view-response-response-time = "file:exports/response-time.json"
# view-response-unavailable = "file:exports/unavailable.json"
# view-response-calculations = "null"

# If your own software submits the reporting data, `serve` can also run the reporting API for it
# (mutual TLS: the C&A's certificate above, your client CA): add a section reporting_simulator
# with listen = "0.0.0.0:8444" (README: "Your own reporting client rehearses too"). What it
# receives is judged by `pdp-harness run --pack reporting-received --target <this file>`.

# ---------------------------------------------------------------------------------------------
# Redaction of the evidence. Personas' names, dates of birth, NI numbers, addresses, emails and
# phones, tokens, keys and Authorization headers are masked by default.
[redaction]
reveal_personal_data = false      # true only for a local debugging run; recorded on the cover
mask = []                         # further values to mask, e.g. your internal member numbers

# ---------------------------------------------------------------------------------------------
# The find and view wire contracts (technical standards v2.0). The defaults are pdp-harness's
# documented default (README, "Wire contracts"); override only what your copy of the standards
# says differently, for example:
# [contract]
# name = "our copy of TS v2.0"
# [contract.find]
# path = "/pdp/find"
# token_field = "find_request_token"
# audience = "holdername"     # default: the C&A's token URL (public_url + /token), as the MaPS stub
# include_jti = false         # the stub's user assertion has nbf and a hashed name, and no jti
# [contract.pat]
# find_pat_lifetime_secs = 0  # PATs for find tokens expire at once: rehearses your PAT refresh
# [contract.view]
# path_template = "/pdp/view/{assetGuid}"
"#;

/// Write `target.toml` and the CDA-side PEM files into `dir`; returns (file, what it is).
pub fn write_example(
    dir: &Path,
    cda_hosts: &[String],
    cda_port: u16,
    force: bool,
) -> Result<Vec<(String, String)>, InitError> {
    for h in cda_hosts {
        let ok = !h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
        if !ok {
            return Err(InitError::BadHost(h.clone()));
        }
    }
    let host = cda_hosts
        .first()
        .cloned()
        .unwrap_or_else(|| "localhost".to_owned());
    let pki = GeneratedCdaPki::generate(cda_hosts)?;
    let (listen, listen_note) = listen_host(&host);
    let target = EXAMPLE
        .replace("{listen}", &listen)
        .replace(
            "{listen_pad}",
            &" ".repeat(27usize.saturating_sub(listen.len() + cda_port.to_string().len())),
        )
        .replace("{listen_note}", listen_note)
        .replace("{host}", &host)
        .replace("{port}", &cda_port.to_string());
    let mut files = vec![(TARGET_FILE.to_owned(), target, false)];
    files.extend(pki.files);
    for (name, _, _) in &files {
        let path = dir.join(name);
        if path.exists() && !force {
            return Err(InitError::Exists(path));
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| InitError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, text, private) in files {
        let path = dir.join(&name);
        write_file(&path, &text, private)?;
        written.push((name.clone(), describe(&name)));
    }
    Ok(written)
}

/// Where the C&A listens for the host the solution reaches it by: an address given as the host
/// is listened on as it is (so `--cda-host 127.0.0.1` stays on loopback); `localhost` is
/// loopback; another name is reached over the network, so every interface.
fn listen_host(host: &str) -> (String, &'static str) {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        let shown = match ip {
            std::net::IpAddr::V6(_) => format!("[{ip}]"),
            std::net::IpAddr::V4(_) => ip.to_string(),
        };
        (shown, "")
    } else if host.eq_ignore_ascii_case("localhost") {
        ("127.0.0.1".to_owned(), " (loopback only)")
    } else {
        (
            "0.0.0.0".to_owned(),
            " (every interface: your solution reaches it by name)",
        )
    }
}

fn describe(name: &str) -> String {
    match name {
        TARGET_FILE => "the target file: fill in the lines marked CHANGE".to_owned(),
        "cda-ca.pem" => format!(
            "CA to give your solution to trust (C&A server, harness client); valid {INIT_VALIDITY_DAYS} days"
        ),
        "cda-server.pem" | "cda-server.key" => "the C&A's server certificate and key".to_owned(),
        "harness-client.pem" | "harness-client.key" => {
            "the harness's client certificate and key for find and view requests".to_owned()
        }
        "cda-signing.key" => "the key signing the CDA's tokens (published at /jwks)".to_owned(),
        _ => String::new(),
    }
}

/// Private keys are written readable by their owner only.
fn write_file(path: &Path, text: &str, private: bool) -> Result<(), InitError> {
    let err = |source| InitError::Write {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(err)?;
    // An existing file (--force) keeps its mode on open: tighten it too.
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    file.write_all(text.as_bytes()).map_err(err)
}
