//! The reference provider speaks the current view data model: every view data payload it can
//! emit (every pension of the shipped pack, as a definite match and as a possible match)
//! passes the project's own schema and the cross-field rules, and, as a cross-check against an
//! independent reading of the data standards, MaPS's stricter dashboard schema (reference data
//! in `../shared/specs/maps-dashboard/`, read at test time, never copied into the project).

use crate::common;

use pdp_harness::protocol::rules::{ViewDataSchema, cross_field};
use pdp_harness::provider::Faults;
use pdp_harness::provider::view_data::{arrangements, possible_match_arrangements, view_data};
use serde_json::Value;

/// Every view data payload the reference provider can emit for the shipped pack.
fn every_payload() -> Vec<(String, Value)> {
    let pack = common::pack();
    let none = Faults::none();
    let mut out = Vec::new();
    for p in &pack.pensions {
        let asset = p.asset_guid.get_ref().clone();
        out.push((
            format!("{asset} (definite)"),
            view_data(arrangements(&pack, p, &none)),
        ));
        out.push((
            format!("{asset} (possible match)"),
            view_data(possible_match_arrangements(&pack, p, &none)),
        ));
    }
    out
}

#[test]
fn every_reference_payload_passes_our_schema_and_the_cross_field_rules() {
    let schema = ViewDataSchema::builtin().expect("the built-in schema compiles");
    let payloads = every_payload();
    assert!(payloads.len() >= 30, "the pack's pensions, two forms each");
    for (what, v) in payloads {
        let problems: Vec<String> = schema
            .check(&v)
            .iter()
            .chain(cross_field(&v).iter())
            .map(ToString::to_string)
            .collect();
        assert!(problems.is_empty(), "{what}: {problems:#?}");
    }
}

#[test]
#[cfg_attr(
    not(maps_dashboard_specs),
    ignore = "../shared/specs/maps-dashboard/ViewDataPayload.strict.json is absent: MaPS's schema is reference data kept beside the project, not in it"
)]
fn every_reference_payload_passes_maps_strict_dashboard_schema() {
    let path = common::root().join("../shared/specs/maps-dashboard/ViewDataPayload.strict.json");
    let text = std::fs::read_to_string(&path).expect("the strict schema is readable");
    let maps: Value = serde_json::from_str(&text).expect("the strict schema is JSON");
    for (what, v) in every_payload() {
        let errors = common::schema_errors(&maps, &v);
        assert!(errors.is_empty(), "{what}: {errors:#?}");
    }
    // The same file, loaded as a replacement schema, judges the same way.
    let replacement = ViewDataSchema::configured(Some(&path), std::path::Path::new("/"))
        .expect("MaPS's schema loads as a replacement");
    for (what, v) in every_payload() {
        let problems = replacement.check(&v);
        assert!(problems.is_empty(), "{what}: {problems:#?}");
    }
}
