//! Failure classification: every failed step is classed by who has to act, so a test manager
//! knows at a glance whether to provision data, call the technical contact, or fix the
//! environment. Step messages follow a convention the classes are read from: `test data: …`,
//! `scenario: …` and `internal: …` prefixes, and transport wording for the environment.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// The target file, certificates or feature wording are wrong.
    Configuration,
    /// Something between us and the system under test: unreachable, refused, 5xx from the CDA.
    Environment,
    /// The persona or pension is not provisioned as the test pack says.
    TestData,
    /// The system under test behaved wrongly.
    SystemUnderTest,
    /// pdp-harness itself went wrong.
    Harness,
}

impl FailureClass {
    pub fn label(self) -> &'static str {
        match self {
            FailureClass::Configuration => "configuration",
            FailureClass::Environment => "environment",
            FailureClass::TestData => "test data",
            FailureClass::SystemUnderTest => "system under test",
            FailureClass::Harness => "harness",
        }
    }

    /// Who acts on it.
    pub fn owner(self) -> &'static str {
        match self {
            FailureClass::TestData | FailureClass::Configuration => "test manager",
            FailureClass::Environment | FailureClass::SystemUnderTest | FailureClass::Harness => {
                "technical contact"
            }
        }
    }
}

const TRANSPORT: [&str; 7] = [
    "could not be reached",
    "could not be delivered",
    "got no response",
    "no response arrived",
    "unreachable",
    "connection refused",
    "timed out",
];

/// The class of a failed step's message.
pub fn classify(message: &str) -> FailureClass {
    let lower = message.to_ascii_lowercase();
    if lower.starts_with("test data:") {
        FailureClass::TestData
    } else if lower.starts_with("internal:") {
        FailureClass::Harness
    } else if lower.starts_with("scenario:") || lower.starts_with("no step definition") {
        FailureClass::Configuration
    } else if TRANSPORT.iter().any(|t| lower.contains(t)) || lower.contains("clear-down") {
        FailureClass::Environment
    } else {
        FailureClass::SystemUnderTest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_owners() {
        assert_eq!(
            classify("test data: case \"X\" is not in the test pack"),
            FailureClass::TestData
        );
        assert_eq!(
            classify("case CP-01: the find request could not be delivered to https://x: refused"),
            FailureClass::Environment
        );
        assert_eq!(
            classify(
                "case CP-01: expected match_status \"match-yes\", observed \"match-possible\""
            ),
            FailureClass::SystemUnderTest
        );
        assert_eq!(
            classify("no step definition matches this sentence"),
            FailureClass::Configuration
        );
        assert_eq!(
            classify("internal: the scenario has no environment attached"),
            FailureClass::Harness
        );
        assert_eq!(FailureClass::TestData.owner(), "test manager");
        assert_eq!(FailureClass::SystemUnderTest.owner(), "technical contact");
    }
}
