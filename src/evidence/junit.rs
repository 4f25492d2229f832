//! JUnit XML: one `<testsuite>` per feature, one `<testcase>` per scenario, failures with the
//! failing step's message, in the form Jenkins, GitLab, GitHub and Azure parsers accept.

use std::collections::BTreeMap;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::record::run::{RunRecord, ScenarioRecord, Status, attempt_history_text};

fn seconds(s: &ScenarioRecord) -> f64 {
    s.steps.iter().map(|st| st.duration_ms).sum::<f64>() / 1000.0
}

fn testcase_name(s: &ScenarioRecord) -> String {
    match &s.case_id {
        Some(id) => format!("[{id}] {}", s.name),
        None => s.name.clone(),
    }
}

/// The step-by-step story of a scenario, for the failure body.
fn steps_text(s: &ScenarioRecord) -> String {
    let mut out = format!("{}\n", s.location);
    for st in &s.steps {
        out.push_str(&format!(
            "{:>11} {} {}\n",
            st.status.as_str(),
            st.keyword.trim(),
            st.text
        ));
        if let Some(m) = &st.message {
            out.push_str(&format!("            {m}\n"));
        }
        if let Some(c) = st.failure_class {
            out.push_str(&format!(
                "            class: {}; to act: {}\n",
                c.label(),
                c.owner()
            ));
        }
    }
    out
}

pub fn render_junit(record: &RunRecord) -> Result<Vec<u8>, std::io::Error> {
    let mut by_feature: BTreeMap<&str, Vec<&ScenarioRecord>> = BTreeMap::new();
    for s in &record.scenarios {
        by_feature.entry(s.feature.as_str()).or_default().push(s);
    }
    let rerun_of = record.header.rerun.as_ref().map(|r| r.rerun_of.as_str());
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let total_time: f64 = record.scenarios.iter().map(seconds).sum();
    let failures = record
        .scenarios
        .iter()
        .filter(|s| s.status == Status::Failed)
        .count();
    let errors = record
        .scenarios
        .iter()
        .filter(|s| s.status == Status::Interrupted)
        .count();
    w.create_element("testsuites")
        .with_attribute(("name", format!("pdp-harness {}", record.header.run_id).as_str()))
        .with_attribute(("tests", record.scenarios.len().to_string().as_str()))
        .with_attribute(("failures", failures.to_string().as_str()))
        .with_attribute(("errors", errors.to_string().as_str()))
        .with_attribute(("time", format!("{total_time:.3}").as_str()))
        .write_inner_content(|w| {
            for (feature, scenarios) in &by_feature {
                let count = |st: Status| scenarios.iter().filter(|s| s.status == st).count();
                w.create_element("testsuite")
                    .with_attribute(("name", *feature))
                    .with_attribute(("tests", scenarios.len().to_string().as_str()))
                    .with_attribute(("failures", count(Status::Failed).to_string().as_str()))
                    .with_attribute(("errors", count(Status::Interrupted).to_string().as_str()))
                    .with_attribute(("skipped", count(Status::Skipped).to_string().as_str()))
                    .with_attribute((
                        "time",
                        format!("{:.3}", scenarios.iter().map(|s| seconds(s)).sum::<f64>()).as_str(),
                    ))
                    .with_attribute((
                        "timestamp",
                        record.header.started_at.format("%Y-%m-%dT%H:%M:%S").to_string().as_str(),
                    ))
                    .write_inner_content(|w| {
                        for s in scenarios {
                            let case = w
                                .create_element("testcase")
                                .with_attribute(("classname", *feature))
                                .with_attribute(("name", testcase_name(s).as_str()))
                                .with_attribute(("file", s.location.as_str()))
                                .with_attribute(("time", format!("{:.3}", seconds(s)).as_str()));
                            let failed_step = s.steps.iter().find(|st| st.status == Status::Failed);
                            let first_message = failed_step
                                .and_then(|st| st.message.clone())
                                .or_else(|| s.steps.iter().find_map(|st| st.message.clone()))
                                .unwrap_or_else(|| s.status.as_str().to_owned());
                            // The failure type says who acts: e.g. "system-under-test".
                            let failure_type = failed_step
                                .and_then(|st| st.failure_class)
                                .map(|c| c.label().replace(' ', "-"))
                                .unwrap_or_else(|| "StepFailed".to_owned());
                            let history = record.history_of(s).map(|h| {
                                (h.attempts.len(), attempt_history_text(h, s.status))
                            });
                            // The verdict element, then (for a re-run) the attempt history.
                            // The organisation's own case references (@ref:<id>).
                            let refs = s.refs();
                            let inner = |w: &mut Writer<Vec<u8>>| -> std::io::Result<()> {
                                if history.is_some() || !refs.is_empty() {
                                    w.create_element("properties").write_inner_content(|w| {
                                        let mut props: Vec<(&str, String)> = refs
                                            .iter()
                                            .map(|r| ("ref", (*r).to_owned()))
                                            .collect();
                                        if let Some((earlier, text)) = &history {
                                            props.extend([
                                                ("rerun_of", rerun_of.unwrap_or_default().to_owned()),
                                                ("earlier_attempts", earlier.to_string()),
                                                ("attempt_history", text.clone()),
                                            ]);
                                        }
                                        for (name, value) in props {
                                            w.create_element("property")
                                                .with_attribute(("name", name))
                                                .with_attribute(("value", value.as_str()))
                                                .write_empty()?;
                                        }
                                        Ok(())
                                    })?;
                                }
                                match s.status {
                                    Status::Passed => {}
                                    Status::Failed => {
                                        w.create_element("failure")
                                            .with_attribute(("message", first_message.as_str()))
                                            .with_attribute(("type", failure_type.as_str()))
                                            .write_text_content(BytesText::new(&steps_text(s)))?;
                                    }
                                    Status::Skipped => {
                                        w.create_element("skipped")
                                            .with_attribute(("message", first_message.as_str()))
                                            .write_empty()?;
                                    }
                                    Status::Interrupted => {
                                        w.create_element("error")
                                            .with_attribute((
                                                "message",
                                                "interrupted: the run stopped before this scenario finished",
                                            ))
                                            .with_attribute(("type", "Interrupted"))
                                            .write_text_content(BytesText::new(&steps_text(s)))?;
                                    }
                                }
                                let mut out = Vec::new();
                                if let Some((_, text)) = &history {
                                    out.push(format!("Attempt history: {text}"));
                                }
                                // Warnings (sources disagree) did not fail the case: say them.
                                out.extend(s.warnings().map(|w| format!("WARNING: {w}")));
                                if !out.is_empty() {
                                    w.create_element("system-out")
                                        .write_text_content(BytesText::new(&out.join("\n")))?;
                                }
                                Ok(())
                            };
                            if s.status == Status::Passed
                                && history.is_none()
                                && refs.is_empty()
                                && s.warnings().next().is_none()
                            {
                                case.write_empty()?;
                            } else {
                                case.write_inner_content(inner)?;
                            }
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        })?;
    let mut out = w.into_inner();
    out.push(b'\n');
    Ok(out)
}
