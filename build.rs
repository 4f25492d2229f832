//! Tells the tests whether MaPS's dashboard schema (reference data kept beside the project in
//! `../shared/specs/maps-dashboard/`, never copied into it) is present, so the cross-check
//! tests are ignored with a reason, rather than failing, where it is absent.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(maps_dashboard_specs)");
    println!("cargo::rerun-if-changed=../shared/specs/maps-dashboard");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/specs/maps-dashboard/ViewDataPayload.strict.json");
    if dir.is_file() {
        println!("cargo::rustc-cfg=maps_dashboard_specs");
    }
}
