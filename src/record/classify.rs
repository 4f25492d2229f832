//! Failure classification: every failed step is classed by who has to act, so a test manager
//! knows at a glance whether to provision data, call the technical contact, or fix the
//! environment. The class is part of the failure's type ([`StepFailure`]), decided where the
//! failure is understood; nothing reads it back from a message.

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

/// A step that failed, with who has to act: the class is set where the failure is understood
/// (a refused connection, a pack without the case, a wrong registration) and travels with it
/// into the run log, never re-read from the message's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StepFailure {
    pub class: FailureClass,
    pub message: String,
}

impl StepFailure {
    pub fn new(class: FailureClass, message: impl Into<String>) -> StepFailure {
        StepFailure {
            class,
            message: message.into(),
        }
    }

    /// The system under test behaved wrongly.
    pub fn system_under_test(message: impl Into<String>) -> StepFailure {
        StepFailure::new(FailureClass::SystemUnderTest, message)
    }

    /// Something between the harness and the system under test failed.
    pub fn environment(message: impl Into<String>) -> StepFailure {
        StepFailure::new(FailureClass::Environment, message)
    }

    /// The test pack does not provide what the scenario needs.
    pub fn test_data(message: impl Into<String>) -> StepFailure {
        StepFailure::new(FailureClass::TestData, message)
    }

    /// The target file, certificates or feature wording are wrong.
    pub fn configuration(message: impl Into<String>) -> StepFailure {
        StepFailure::new(FailureClass::Configuration, message)
    }

    /// pdp-harness itself went wrong.
    pub fn harness(message: impl Into<String>) -> StepFailure {
        StepFailure::new(FailureClass::Harness, message)
    }

    /// The same failure with its message rewritten (a headline added), its class kept.
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> StepFailure {
        StepFailure {
            class: self.class,
            message: f(self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_follow_classes() {
        assert_eq!(FailureClass::TestData.owner(), "test manager");
        assert_eq!(FailureClass::Configuration.owner(), "test manager");
        assert_eq!(FailureClass::SystemUnderTest.owner(), "technical contact");
        assert_eq!(FailureClass::Environment.owner(), "technical contact");
    }

    #[test]
    fn a_failure_displays_its_message_and_keeps_its_class_when_headed() {
        let f = StepFailure::environment("the find request could not be delivered")
            .map_message(|m| format!("case CP-01: {m}"));
        assert_eq!(
            f.to_string(),
            "case CP-01: the find request could not be delivered"
        );
        assert_eq!(f.class, FailureClass::Environment);
    }
}
