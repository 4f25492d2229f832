//! `cucumber.json`: the run in the Cucumber JSON report format, which CI plugins and report
//! viewers (Jenkins Cucumber Reports, Allure, Xray, cucumber-html-reporter) read natively.

use serde_json::{Value, json};

use crate::record::run::{RunRecord, ScenarioRecord, Status};

fn status(s: Status) -> &'static str {
    match s {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
        // Cucumber JSON has no "interrupted"; the nearest is a step that never ran.
        Status::Interrupted => "pending",
    }
}

/// "features/x.feature:12" → ("features/x.feature", 12).
fn split_location(location: &str) -> (&str, u64) {
    match location.rsplit_once(':') {
        Some((uri, line)) => (uri, line.parse().unwrap_or(0)),
        None => (location, 0),
    }
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn element(s: &ScenarioRecord) -> Value {
    let (_, line) = split_location(&s.location);
    let steps: Vec<Value> = s
        .steps
        .iter()
        .map(|step| {
            let mut result = json!({
                "status": status(step.status),
                // Nanoseconds, as the format wants.
                "duration": (step.duration_ms * 1_000_000.0).round() as u64,
            });
            if let Some(m) = &step.message {
                result["error_message"] = Value::String(m.clone());
            }
            json!({
                "keyword": format!("{} ", step.keyword.trim()),
                "name": step.text,
                "result": result,
            })
        })
        .collect();
    json!({
        "id": format!("{};{}", slug(&s.feature), slug(&s.name)),
        "keyword": "Scenario",
        "type": "scenario",
        "name": s.name,
        "line": line,
        "tags": s.tags.iter().map(|t| json!({ "name": format!("@{}", t.trim_start_matches('@')) })).collect::<Vec<_>>(),
        "steps": steps,
    })
}

/// The record as a Cucumber JSON document: one feature per feature file, scenarios in run order.
pub fn render_cucumber_json(record: &RunRecord) -> Result<Vec<u8>, serde_json::Error> {
    let mut features: Vec<(String, String, Vec<Value>)> = Vec::new();
    for s in &record.scenarios {
        let (uri, _) = split_location(&s.location);
        match features.iter_mut().find(|(u, _, _)| u == uri) {
            Some((_, _, elements)) => elements.push(element(s)),
            None => features.push((uri.to_owned(), s.feature.clone(), vec![element(s)])),
        }
    }
    let doc: Vec<Value> = features
        .into_iter()
        .map(|(uri, name, elements)| {
            json!({
                "uri": uri,
                "id": slug(&name),
                "keyword": "Feature",
                "name": name,
                "line": 1,
                "elements": elements,
            })
        })
        .collect();
    serde_json::to_vec_pretty(&doc)
}
