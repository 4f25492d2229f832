//! Whether, and how, the reporting stage runs against this run's target.
//!
//! Against the embedded default the reporting data can be derived from what the reference
//! provider served. Against the organisation's solution it cannot: the data must come from the
//! organisation's exports (`file:`) or be the null set, and a target file with no `[reporting]`
//! section leaves reporting out of `--pack all` rather than failing ten scenarios on data the
//! harness cannot have.

use crate::harness::config::TargetConfig;
use crate::reporting::Endpoint;
use crate::reporting::sources::Source;

use super::Pack;

/// Tag of the scenario that reconciles what was reported with what the harness observed.
pub const RECONCILIATION_TAG: &str = "reconciliation";

/// The endpoints whose data reconciliation compares with the harness's observations.
const RECONCILED: [Endpoint; 3] = [
    Endpoint::ViewResponseRequestNumber,
    Endpoint::ViewResponseResponseTime,
    Endpoint::ViewResponseUnavailable,
];

/// What the reporting stage does in this run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReportingScope {
    /// The stage is left out of the run, with the reason (shown in the evidence).
    pub left_out: Option<String>,
    /// Scenario tags not run in the stage, with the reason for each.
    pub not_applicable: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportingScopeError {
    #[error(
        "the reporting pack needs a [reporting] section in {target} when run against your solution: its data comes from your system's exports. Add [reporting.sources] with \"file:PATH\" or \"null\" for each endpoint (`pdp-harness init` writes a commented example; README, \"The reporting pack\")"
    )]
    NotConfigured { target: String },
    #[error(
        "[reporting.sources] {endpoints}: \"derived\" (the default) counts what the embedded reference provider served, which a run against your solution does not have. Set each to \"file:PATH\" (your system's export, JSON or CSV) or \"null\" (the minimal valid set) in {target}"
    )]
    DerivedOnRealTarget { endpoints: String, target: String },
    #[error("{0}")]
    Sources(String),
    #[error(
        "the reporting-received pack judges what `pdp-harness serve` received from your own reporting client, but {target} has no [reporting_simulator] section: add one (listen = \"0.0.0.0:8444\"; certificates default to [cda]'s), start `pdp-harness serve --target {target}`, point your reporting client at it and submit, then run this pack"
    )]
    NoReportingSimulator { target: String },
}

/// Decide the reporting stage's scope before anything runs.
pub fn reporting_scope(
    config: &TargetConfig,
    pack: Pack,
) -> Result<ReportingScope, ReportingScopeError> {
    let mut scope = ReportingScope::default();
    let target = config
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the target file".to_owned());
    if pack == Pack::ReportingReceived && config.reporting_simulator.is_none() {
        return Err(ReportingScopeError::NoReportingSimulator { target });
    }
    if !matches!(pack, Pack::All | Pack::Reporting) {
        return Ok(scope);
    }
    let real_target = config.provider.is_some();
    if real_target && !config.reporting_section {
        if pack == Pack::All {
            scope.left_out = Some(format!(
                "the reporting stage is left out: {target} has no [reporting] section. Add one to rehearse your reporting (its data from your exports, or null); `pdp-harness init` writes a commented example"
            ));
            return Ok(scope);
        }
        return Err(ReportingScopeError::NotConfigured { target });
    }
    let sources = config
        .reporting
        .parsed_sources()
        .map_err(|e| ReportingScopeError::Sources(e.to_string()))?;
    let source_of = |e: Endpoint| sources.get(&e).cloned().unwrap_or_default();
    if real_target {
        let derived: Vec<&str> = Endpoint::ALL
            .into_iter()
            .filter(|e| source_of(*e) == Source::Derived)
            .map(Endpoint::slug)
            .collect();
        if !derived.is_empty() {
            return Err(ReportingScopeError::DerivedOnRealTarget {
                endpoints: derived.join(", "),
                target,
            });
        }
    }
    if RECONCILED.iter().all(|e| source_of(*e) == Source::Null) {
        scope.not_applicable.push((
            RECONCILIATION_TAG,
            format!(
                "reconciliation (RP-09) is not applicable: the sources of {} are all \"null\", so nothing is reported to compare with what the harness observed",
                RECONCILED.map(Endpoint::slug).join(", ")
            ),
        ));
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROVIDER: &str = r#"
[provider]
find_url = "https://find.example"
view_url = "https://view.example"
client_cert = "c.pem"
client_key = "c.key"
ca_bundle = "ca.pem"
[cda]
listen = "127.0.0.1:8443"
public_url = "https://localhost:8443"
server_cert = "s.pem"
server_key = "s.key"
server_ca = "ca.pem"
client_ca = "org.pem"
signing_key = "k.pem"
"#;

    fn real_target(reporting: Option<&[(&str, &str)]>) -> TargetConfig {
        let mut config: TargetConfig = toml::from_str(PROVIDER).expect("a real target");
        if let Some(sources) = reporting {
            config.reporting_section = true;
            for (k, v) in sources {
                config
                    .reporting
                    .sources
                    .insert((*k).to_owned(), (*v).to_owned());
            }
        }
        config
    }

    const ALL_NULL: [(&str, &str); 6] = [
        ("service-availability-find", "null"),
        ("service-availability-view", "null"),
        ("view-response-request-number", "null"),
        ("view-response-response-time", "null"),
        ("view-response-unavailable", "null"),
        ("view-response-calculations", "null"),
    ];

    #[test]
    fn the_embedded_default_derives_everything() {
        let scope = reporting_scope(&TargetConfig::default(), Pack::All).expect("runs");
        assert_eq!(scope, ReportingScope::default());
    }

    #[test]
    fn a_real_target_without_reporting_leaves_it_out_of_all_and_refuses_the_reporting_pack() {
        let config = real_target(None);
        let scope = reporting_scope(&config, Pack::All).expect("runs");
        assert!(
            scope
                .left_out
                .as_deref()
                .is_some_and(|r| r.contains("no [reporting] section")),
            "{scope:?}"
        );
        assert!(matches!(
            reporting_scope(&config, Pack::Reporting),
            Err(ReportingScopeError::NotConfigured { .. })
        ));
        assert_eq!(
            reporting_scope(&config, Pack::Stage1).expect("runs"),
            ReportingScope::default()
        );
    }

    #[test]
    fn derived_sources_on_a_real_target_are_refused_naming_them() {
        let config = real_target(Some(&ALL_NULL[..4]));
        let err = reporting_scope(&config, Pack::All).expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("view-response-calculations, view-response-unavailable")
                && text.contains("\"file:PATH\"")
                && text.contains("\"null\""),
            "{text}"
        );
    }

    #[test]
    fn the_received_pack_needs_a_reporting_simulator_section() {
        let err = reporting_scope(&TargetConfig::default(), Pack::ReportingReceived)
            .expect_err("refused");
        assert!(matches!(
            err,
            ReportingScopeError::NoReportingSimulator { .. }
        ));
        assert!(err.to_string().contains("[reporting_simulator]"), "{err}");
        let mut config = real_target(None);
        config.reporting_simulator =
            Some(toml::from_str("listen = \"127.0.0.1:8444\"").expect("a simulator section"));
        assert_eq!(
            reporting_scope(&config, Pack::ReportingReceived).expect("runs"),
            ReportingScope::default()
        );
    }

    #[test]
    fn null_view_response_sources_make_reconciliation_not_applicable() {
        let config = real_target(Some(&ALL_NULL));
        let scope = reporting_scope(&config, Pack::All).expect("runs");
        assert_eq!(scope.left_out, None);
        assert_eq!(scope.not_applicable.len(), 1);
        assert_eq!(scope.not_applicable[0].0, RECONCILIATION_TAG);
        assert!(scope.not_applicable[0].1.contains("not applicable"));

        let mut partly = ALL_NULL;
        partly[2] = ("view-response-request-number", "file:exports/n.json");
        let scope = reporting_scope(&real_target(Some(&partly)), Pack::All).expect("runs");
        assert!(scope.not_applicable.is_empty());
    }
}
