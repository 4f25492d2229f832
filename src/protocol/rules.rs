//! View data judged by the data standards, item by item.
//!
//! Everything a JSON Schema can say lives in a schema file: the project's own
//! (`src/protocol/view_data.schema.json`, written from the data standards facts, embedded) or the file
//! an organisation names in `[contract] view_data_schema` (its copy of the official
//! `view_data_token_payload` schema), so a replacement file fully governs those checks. Only
//! what a schema cannot say is code (in `cross_field`): cross-field sense of unavailable codes, definite and
//! possible arrangements never mixed, and warnings where the public sources disagree. Every
//! finding names the data item number (read from the schema's descriptions, which start with
//! it) and the JSON path.

use std::fmt;
use std::path::{Path, PathBuf};

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The project's own view data schema, embedded at build time.
pub const BUILTIN_SCHEMA: &str = include_str!("view_data.schema.json");

/// Why a view data schema could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("view data schema {path}: cannot read it: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("view data schema {path}: not JSON: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("view data schema {path}: not a usable JSON Schema: {message}")]
    Compile { path: PathBuf, message: String },
}

/// A compiled view data schema and where it came from (for the evidence cover).
pub struct ViewDataSchema {
    /// "built-in" or the file's path as configured.
    pub label: String,
    /// SHA-256 of the schema file's bytes, hex.
    pub sha256: String,
    doc: Value,
    validator: jsonschema::Validator,
}

impl fmt::Debug for ViewDataSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ViewDataSchema")
            .field("label", &self.label)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

impl ViewDataSchema {
    /// The project's own schema.
    pub fn builtin() -> Result<ViewDataSchema, SchemaError> {
        Self::from_text(
            BUILTIN_SCHEMA,
            "built-in (pdp-harness view_data.schema.json)",
            Path::new("built-in"),
        )
    }

    /// `[contract] view_data_schema` resolved against `base_dir`, or the built-in schema.
    pub fn configured(file: Option<&Path>, base_dir: &Path) -> Result<ViewDataSchema, SchemaError> {
        match file {
            None => Self::builtin(),
            Some(f) => {
                let path = if f.is_absolute() {
                    f.to_owned()
                } else {
                    base_dir.join(f)
                };
                let text = std::fs::read_to_string(&path).map_err(|source| SchemaError::Read {
                    path: path.clone(),
                    source,
                })?;
                Self::from_text(&text, &path.display().to_string(), &path)
            }
        }
    }

    fn from_text(text: &str, label: &str, path: &Path) -> Result<ViewDataSchema, SchemaError> {
        let doc: Value = serde_json::from_str(text).map_err(|source| SchemaError::Parse {
            path: path.to_owned(),
            source,
        })?;
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&doc)
            .map_err(|e| SchemaError::Compile {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        Ok(ViewDataSchema {
            label: label.to_owned(),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            doc,
            validator,
        })
    }

    /// What the schema finds wrong with `view_data`, each naming its item and path.
    pub fn check(&self, view_data: &Value) -> Vec<Finding> {
        let mut out = Vec::new();
        for e in self.validator.iter_errors(view_data) {
            self.explain(&e, &mut out);
        }
        out.dedup();
        out
    }

    fn explain(&self, e: &jsonschema::ValidationError<'_>, out: &mut Vec<Finding>) {
        let instance_path = json_path(e.instance_path().as_str());
        let schema_path = e.schema_path().as_str().to_owned();
        // The schema node that holds the failed keyword.
        let parent = schema_path
            .rsplit_once('/')
            .map(|(p, _)| p.to_owned())
            .unwrap_or_default();
        let node = self.node(&parent);
        let instance = e.instance();
        match e.kind() {
            ValidationErrorKind::AnyOf { context }
            | ValidationErrorKind::OneOfNotValid { context } => {
                self.explain_branches(context, &instance_path, node, out);
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                let described = node
                    .and_then(|n| n.get("properties"))
                    .and_then(|p| p.get(name))
                    .map(|p| self.described(p))
                    .unwrap_or_default();
                out.push(Finding::new(
                    described.0,
                    join_path(&instance_path, name),
                    format!("is required but missing{}", what(&described.1)),
                ));
            }
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                let described = node.map(|n| self.described(n)).unwrap_or_default();
                for name in unexpected {
                    out.push(Finding::new(
                        described.0.clone(),
                        join_path(&instance_path, name),
                        format!(
                            "is not a data item of {}",
                            if described.1.is_empty() {
                                "this object".to_owned()
                            } else {
                                format!("the {}", described.1)
                            }
                        ),
                    ));
                }
            }
            ValidationErrorKind::Enum { options } => {
                let described = node.map(|n| self.described(n)).unwrap_or_default();
                let allowed = options
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                out.push(Finding::new(
                    described.0,
                    instance_path,
                    format!(
                        "{instance} is not allowed{} (allowed: {allowed})",
                        if described.1.is_empty() {
                            String::new()
                        } else {
                            format!(" as the {}", described.1)
                        }
                    ),
                ));
            }
            ValidationErrorKind::Constant { expected_value } => {
                let described = node.map(|n| self.described(n)).unwrap_or_default();
                out.push(Finding::new(
                    described.0,
                    instance_path,
                    format!(
                        "is {instance}, expected {expected_value}{}",
                        what(&described.1)
                    ),
                ));
            }
            _ => {
                let described = node.map(|n| self.described(n)).unwrap_or_default();
                out.push(Finding::new(
                    described.0,
                    instance_path,
                    format!("{e}{}", what(&described.1)),
                ));
            }
        }
    }

    /// A failed `anyOf`/`oneOf`: the branch that came closest explains it; when every branch
    /// only misses a member, say which members would do.
    fn explain_branches(
        &self,
        context: &[Vec<jsonschema::ValidationError<'static>>],
        instance_path: &str,
        node: Option<&Value>,
        out: &mut Vec<Finding>,
    ) {
        let all_required = !context.is_empty()
            && context.iter().all(|branch| {
                !branch.is_empty()
                    && branch
                        .iter()
                        .all(|e| matches!(e.kind(), ValidationErrorKind::Required { .. }))
            });
        if all_required {
            let names: Vec<String> = context
                .iter()
                .flatten()
                .filter_map(|e| match e.kind() {
                    ValidationErrorKind::Required { property } => {
                        property.as_str().map(str::to_owned)
                    }
                    _ => None,
                })
                .collect();
            let described = node.map(|n| self.described(n)).unwrap_or_default();
            out.push(Finding::new(
                described.0,
                instance_path.to_owned(),
                format!("needs one of {}{}", names.join(", "), what(&described.1)),
            ));
            return;
        }
        if let Some(best) = context
            .iter()
            .filter(|b| !b.is_empty())
            .min_by_key(|b| b.len())
        {
            for e in best {
                self.explain(e, out);
            }
        }
    }

    /// A schema node by JSON pointer into the document, following a local `$ref` there.
    fn node(&self, pointer: &str) -> Option<&Value> {
        let decoded = pointer.replace("%24", "$");
        let n = if decoded.is_empty() {
            Some(&self.doc)
        } else {
            self.doc.pointer(&decoded)
        }?;
        Some(n)
    }

    /// (item number, what it is) from a schema node's description, following `$ref`.
    fn described(&self, node: &Value) -> (Option<String>, String) {
        let own = node.get("description").and_then(Value::as_str);
        let target = node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|p| self.node(p));
        let text = own
            .filter(|d| item_of(d).0.is_some())
            .or_else(|| {
                target
                    .and_then(|t| t.get("description"))
                    .and_then(Value::as_str)
            })
            .or(own)
            .unwrap_or_default();
        item_of(text)
    }
}

/// `" (what)"`, or nothing.
fn what(described: &str) -> String {
    if described.is_empty() {
        String::new()
    } else {
        format!(" ({described})")
    }
}

/// Split a description into its leading item number(s) and the first line of the rest.
fn item_of(description: &str) -> (Option<String>, String) {
    let first = description.trim_start();
    let end = first
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '/' || c == '-' || c == ','))
        .unwrap_or(first.len());
    let head = first[..end].trim_end_matches([',', '-', '/']);
    let looks_like_item = head.len() >= 5
        && head.as_bytes().get(1) == Some(&b'.')
        && head.chars().next().is_some_and(|c| c.is_ascii_digit());
    let rest = first[end..]
        .trim_start()
        .lines()
        .next()
        .unwrap_or_default()
        .trim();
    if looks_like_item {
        (Some(head.to_owned()), rest.to_owned())
    } else {
        (
            None,
            first.lines().next().unwrap_or_default().trim().to_owned(),
        )
    }
}

/// `/arrangements/0/pensionAdministrator` → `arrangements[0].pensionAdministrator`.
pub fn json_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    if out.is_empty() {
        "view_data".to_owned()
    } else {
        out
    }
}

fn join_path(base: &str, key: &str) -> String {
    if base == "view_data" {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

/// One thing wrong (or, for warnings, doubtful) in view data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Data standards item number(s), e.g. "2.401" or "2.303/2.403".
    pub item: Option<String>,
    /// JSON path inside the view data, e.g. `arrangements[0].possibleMatch`.
    pub path: String,
    pub message: String,
}

impl Finding {
    fn new(item: Option<String>, path: String, message: String) -> Finding {
        Finding {
            item,
            path,
            message,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.item {
            Some(item) => write!(f, "{item} {}: {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

mod cross_field;
pub use cross_field::{
    VALUE_AGE_MONTHS, cross_field, cross_field_on, source_conflicts, source_conflicts_on,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(super) fn good() -> Value {
        json!({"arrangements": [{
            "possibleMatch": false,
            "pensionProviderSchemeName": "S", "pensionReference": "R",
            "pensionType": "DB", "pensionOrigin": "A", "pensionStatus": "A",
            "pensionAdministrator": {"name": "A", "contactMethods": [
                {"preferred": true, "contactMethodDetails": {"email": "a@b.example"}},
                {"preferred": false, "contactMethodDetails": {"number": "+44 1632960001", "usage": ["W"]}}]},
            "employmentMembershipPeriods": [{"employerName": "E", "employmentStartDate": "2010-01-01"}],
            "benefitIllustrations": [{"illustrationDate": "2026-04-05", "illustrationComponents": [
                {"illustrationType": "ERI", "benefitType": "DB", "calculationMethod": "BS", "unavailableReason": "DBC"},
                {"illustrationType": "AP", "benefitType": "DB", "calculationMethod": "SM",
                 "payableDetails": {"amountType": "INC", "annualAmount": 6100.0, "payableDate": "2035-10-05"}}]}]
        }]})
    }

    fn messages(schema: &ViewDataSchema, v: &Value) -> String {
        schema
            .check(v)
            .iter()
            .chain(cross_field(v).iter())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_builtin_schema_accepts_conforming_data() {
        let s = ViewDataSchema::builtin().expect("the built-in schema compiles");
        assert_eq!(messages(&s, &good()), "");
        assert_eq!(s.sha256.len(), 64);
    }

    #[test]
    fn each_failure_names_its_item_and_path() {
        let s = ViewDataSchema::builtin().expect("the built-in schema compiles");
        let mut v = good();
        v["arrangements"][0]["benefitIllustrations"][0]["illustrationComponents"][1]["unavailableReason"] =
            json!("DCHA");
        let m = messages(&s, &v);
        assert!(
            m.contains("2.401 arrangements[0].benefitIllustrations[0].illustrationComponents[1].unavailableReason: \"DCHA\" is not allowed as the unavailable reason of an accrued pension (AP) component"),
            "{m}"
        );
        let mut v = good();
        v["arrangements"][0]
            .as_object_mut()
            .map(|o| o.remove("possibleMatch"));
        let m = messages(&s, &v);
        assert!(
            m.contains("2.001 arrangements[0].possibleMatch: is required but missing"),
            "{m}"
        );
        let mut v = good();
        v["arrangements"][0]["benefitIllustrations"][0]["illustrationComponents"][1]["dcPot"] =
            json!(1.0);
        let m = messages(&s, &v);
        assert_eq!(
            m,
            "2.401-2.414 arrangements[0].benefitIllustrations[0].illustrationComponents[1].dcPot: is not a data item of the accrued pension (AP) component"
        );
        let mut v = good();
        v["arrangements"][0]["benefitIllustrations"][0]["illustrationComponents"][0]["benefitType"] =
            json!("SP");
        let m = messages(&s, &v);
        assert!(m.contains("2.302 "), "{m}");
        let mut v = good();
        v["arrangements"][0]["pensionAdministrator"]["contactMethods"][1]["contactMethodDetails"] =
            json!({"number": "+441632960001"});
        let m = messages(&s, &v);
        assert!(m.contains("2.106 arrangements[0].pensionAdministrator.contactMethods[1].contactMethodDetails.number"), "{m}");
        assert!(m.contains("2.107 arrangements[0].pensionAdministrator.contactMethods[1].contactMethodDetails.usage: is required"), "{m}");
    }

    #[test]
    fn payable_details_take_one_of_three_shapes() {
        let s = ViewDataSchema::builtin().expect("compiles");
        let at = "/arrangements/0/benefitIllustrations/0/illustrationComponents/1/payableDetails";
        for (details, expect) in [
            (
                json!({"amountType": "CSH", "amount": 100.0, "payableDate": "2035-10-05"}),
                None,
            ),
            (json!({"reason": "SML", "payableDate": "2035-10-05"}), None),
            (
                json!({"amountType": "CSH", "annualAmount": 1.0, "payableDate": "2035-10-05"}),
                Some("payableDetails.amount: is required"),
            ),
            (
                json!({"amountType": "INC", "payableDate": "2035-10-05"}),
                Some("payableDetails.annualAmount: is required"),
            ),
            (
                json!({"reason": "LOW", "payableDate": "2035-10-05"}),
                Some("2.308/2.408"),
            ),
        ] {
            let mut v = good();
            *v.pointer_mut(at).expect("path") = details;
            let m = messages(&s, &v);
            match expect {
                None => assert_eq!(m, ""),
                Some(e) => assert!(m.contains(e), "{e}: {m}"),
            }
        }
    }

    #[test]
    fn possible_matches_hold_only_the_limited_items_and_are_never_mixed() {
        let s = ViewDataSchema::builtin().expect("compiles");
        let limited = json!({"possibleMatch": true, "pensionProviderSchemeName": "S", "possibleMatchReference": "R",
            "pensionAdministrator": {"name": "A", "contactMethods": [{"preferred": true, "contactMethodDetails": {"url": "https://a.example"}}]},
            "additionalDataSources": []});
        let v = json!({"arrangements": [limited, good()["arrangements"][0].clone()]});
        let m = messages(&s, &v);
        assert!(m.contains("2.001 arrangements[0].additionalDataSources: is not a data item of the possible-match arrangement"), "{m}");
        assert!(m.contains("mixes possible-match"), "{m}");
    }

    #[test]
    fn codes_must_fit_the_benefit_type() {
        let mut v = good();
        v["arrangements"][0]["benefitIllustrations"][0]["illustrationComponents"][0]["benefitType"] =
            json!("DC");
        let m = cross_field(&v)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(m.contains("2.301 arrangements[0].benefitIllustrations[0].illustrationComponents[0].unavailableReason: \"DBC\""), "{m}");
    }

    /// 2.018/2.019 only on a State Pension: a schema rule (`dependentSchemas`).
    #[test]
    fn state_pension_messages_only_on_a_state_pension() {
        let s = ViewDataSchema::builtin().expect("compiles");
        let mut v = good();
        v["arrangements"][0]["statePensionMessageEng"] = json!("Your State Pension …");
        let m = messages(&s, &v);
        assert!(
            m.contains("2.018/2.019 arrangements[0].pensionType: is \"DB\", expected \"SP\""),
            "{m}"
        );
        v["arrangements"][0]["pensionType"] = json!("SP");
        assert_eq!(messages(&s, &v), "");
        v["arrangements"][0]
            .as_object_mut()
            .map(|o| o.remove("pensionType"));
        v["arrangements"][0]["statePensionMessageWelsh"] = json!("…");
        let m = messages(&s, &v);
        assert!(
            m.contains("2.018/2.019 arrangements[0].pensionType: is required"),
            "{m}"
        );
    }

    #[test]
    fn a_replacement_schema_governs_the_checks() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("loose.json");
        std::fs::write(&path, r#"{"type": "object", "required": ["arrangements"]}"#)
            .expect("write");
        let s =
            ViewDataSchema::configured(Some(Path::new("loose.json")), dir.path()).expect("loads");
        let v = json!({"arrangements": [{"dcPot": 1.0}]});
        assert!(s.check(&v).is_empty());
        assert!(s.label.ends_with("loose.json"));
        std::fs::write(&path, "{").expect("write");
        let e = ViewDataSchema::configured(Some(&path), dir.path()).expect_err("not JSON");
        assert!(e.to_string().contains("not JSON"), "{e}");
    }
}
