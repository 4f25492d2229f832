//! The packs of PDP integration testing and the stages each runs.

/// The packs of PDP integration testing; each is a tag on its scenarios ([`Pack::summary`]
/// says what each runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pack {
    ConnectionProving,
    Stage1,
    Stage2,
    Reporting,
    Resilience,
    Errors,
    ReportingErrors,
    ReportingReceived,
    All,
}

impl Pack {
    /// Whether the pack's scenarios call the provider (find, view, clear-down). The two
    /// reporting-only packs do not, so the provider checks before a run (which include a
    /// clear-down) are not made for them.
    pub fn calls_provider(self) -> bool {
        !matches!(self, Pack::ReportingErrors | Pack::ReportingReceived)
    }

    pub fn tag(self) -> Option<&'static str> {
        match self {
            Pack::ConnectionProving => Some("connection-proving"),
            Pack::Stage1 => Some("stage1"),
            Pack::Stage2 => Some("stage2"),
            Pack::Reporting => Some("reporting"),
            Pack::Resilience => Some("resilience"),
            Pack::Errors => Some("errors"),
            Pack::ReportingErrors => Some("reporting-errors"),
            Pack::ReportingReceived => Some("reporting-received"),
            Pack::All => None,
        }
    }

    /// The tags whose scenarios the pack selects (any of them); empty for "all".
    pub fn tags(self) -> &'static [&'static str] {
        match self {
            Pack::ConnectionProving => &["connection-proving"],
            Pack::Stage1 => &["stage1"],
            Pack::Stage2 => &["stage2"],
            Pack::Reporting => &["reporting"],
            Pack::Resilience => &["resilience"],
            // The reporting API's error scripts belong to the catalogue too.
            Pack::Errors => &["errors", "reporting-errors"],
            Pack::ReportingErrors => &["reporting-errors"],
            Pack::ReportingReceived => &["reporting-received"],
            Pack::All => &[],
        }
    }

    pub fn name(self) -> &'static str {
        self.tag().unwrap_or("all")
    }

    /// Every pack, in the order the command line lists them.
    pub const ALL: [Pack; 9] = [
        Pack::ConnectionProving,
        Pack::Stage1,
        Pack::Stage2,
        Pack::Reporting,
        Pack::Resilience,
        Pack::Errors,
        Pack::ReportingErrors,
        Pack::ReportingReceived,
        Pack::All,
    ];

    /// The pack of that [`Pack::name`].
    pub fn from_name(name: &str) -> Option<Pack> {
        Pack::ALL.into_iter().find(|p| p.name() == name)
    }

    /// What the pack runs, one sentence (the command line's help).
    pub fn summary(self) -> &'static str {
        match self {
            Pack::ConnectionProving => {
                "One find, one registration, one view (tag @connection-proving)."
            }
            Pack::Stage1 => "Cases that need no intervention and set up matches (tag @stage1).",
            Pack::Stage2 => "Checks after the match updates were applied (tag @stage2).",
            Pack::Reporting => "Reporting data to the six reporting endpoints (tag @reporting).",
            Pack::Resilience => {
                "Retry, backoff and recovery under injected C&A faults (tag @resilience; not in \"all\")."
            }
            Pack::Errors => {
                "The error catalogue: every C&A error the MaPS stub seeds and every bad view request, each a case the provider must survive or refuse (tags @errors and @reporting-errors; not in \"all\")."
            }
            Pack::ReportingErrors => {
                "The reporting scripts alone: every INVALID_* code of the reporting yaml and the transport errors, refused by the harness's validator and by the reporting API (tag @reporting-errors; also in \"errors\"; not in \"all\")."
            }
            Pack::ReportingReceived => {
                "What the reporting simulator of `pdp-harness serve` received from the organisation's own reporting client this UTC day, judged as PDP's pipeline does (tag @reporting-received; not in \"all\")."
            }
            Pack::All => "Every pack, in order.",
        }
    }
}

/// The stages of a pack, in the order PDP runs them.
pub(super) fn stages_of(pack: Pack) -> Vec<Pack> {
    match pack {
        Pack::All => vec![
            Pack::ConnectionProving,
            Pack::Stage1,
            Pack::Stage2,
            Pack::Reporting,
        ],
        p => vec![p],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Pack::ALL` holds every pack once, each found again by its name (as the run log's
    /// serde form spells it).
    #[test]
    fn every_pack_is_listed_once_and_found_by_its_name() {
        for pack in Pack::ALL {
            assert_eq!(Pack::from_name(pack.name()), Some(pack));
            assert_eq!(
                serde_json::to_value(pack).ok(),
                Some(serde_json::Value::String(pack.name().to_owned()))
            );
        }
        let mut names: Vec<_> = Pack::ALL.map(Pack::name).to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Pack::ALL.len());
    }
}
