//! The evidence bundle as a whole: Cucumber JSON, the manifest and seal, `verify` catching a
//! changed byte, the PDF printing the manifest digest and opening in a renderer, and one
//! redaction policy over every file written (a value planted through `[redaction] mask`).

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    common::bin().args(args).output().expect("the binary runs")
}

/// Every file of the bundle as text (the PDF through pdftotext), with its relative path.
fn bundle_texts(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir).expect("inside").display().to_string();
            let text = if rel.ends_with(".pdf") {
                common::pdf_text(&p)
            } else {
                String::from_utf8_lossy(&std::fs::read(&p).expect("read")).into_owned()
            };
            out.push((rel, text));
        }
    }
    out
}

const PERSONAL: [&str; 7] = [
    "MARCHBANKS",
    "ELEANOR",
    "QQ123456C",
    "1971-03-14",
    "ORCHARD ROW",
    "ZZ1 4QT",
    "eleanor.marchbanks@example.com",
];
const PLANTED: &str = "Northwind Workplace Pension Scheme";

fn assert_clean(dir: &Path, planted: Option<&str>) {
    let files = bundle_texts(dir);
    assert!(files.len() >= 8, "{files:?}");
    for (f, content) in &files {
        let upper = content.to_uppercase();
        // The organisation's signature is a JWS by design; no other file holds one.
        assert!(
            f.ends_with(".sig") || !content.contains("eyJ"),
            "{f} holds a token"
        );
        assert!(!content.contains("PRIVATE KEY"), "{f} holds a key");
        assert!(
            !upper.contains("BEARER EY"),
            "{f} holds an Authorization value"
        );
        for p in PERSONAL.iter().copied().chain(planted) {
            assert!(!upper.contains(&p.to_uppercase()), "{f} holds {p}");
        }
    }
}

#[test]
fn a_sealed_bundle_verifies_names_a_changed_byte_and_the_pdf_prints_the_manifest_digest() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = run(&["run", "--out", tmp.path().to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", common::output_text(&out));
    let dir = common::only_run_dir(tmp.path());

    // Cucumber JSON: one feature, its three scenarios, every step passed.
    let cucumber: Value =
        serde_json::from_slice(&std::fs::read(dir.join("cucumber.json")).expect("read"))
            .expect("cucumber.json parses");
    let features = cucumber.as_array().expect("an array of features");
    assert_eq!(features.len(), 1);
    // Without --features the built-in feature files run, and are named so.
    assert_eq!(
        features[0]["uri"],
        "built-in:features/connection_proving.feature"
    );
    let elements = features[0]["elements"].as_array().expect("elements");
    assert_eq!(elements.len(), 3);
    for e in elements {
        assert_eq!(e["type"], "scenario");
        assert!(e["tags"].as_array().is_some_and(|t| !t.is_empty()));
        for s in e["steps"].as_array().expect("steps") {
            assert_eq!(s["result"]["status"], "passed", "{s}");
        }
    }

    // The HTML report: one self-contained page with every case and the verdict.
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("PASSED - every selected scenario passed"));
    for case in ["CP-01", "CP-02", "CP-03"] {
        assert!(html.contains(case), "{case} in the HTML");
    }
    assert!(html.contains("Sign-off") && html.contains("<svg"));
    assert!(
        !html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http")
    );

    // The seal names the manifest's digest; the PDF prints it.
    let seal: Value =
        serde_json::from_slice(&std::fs::read(dir.join("seal.json")).expect("seal")).expect("json");
    let digest = seal["manifest_sha256"].as_str().expect("digest").to_owned();
    assert_eq!(digest.len(), 64);
    let pdf = common::pdf_text(&dir.join("evidence.pdf"));
    assert!(
        pdf.contains(&format!("Manifest SHA-256: {digest}")),
        "{pdf}"
    );
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest");
    for f in [
        "run.log.jsonl",
        "run.json",
        "junit.xml",
        "cucumber.json",
        "inputs/used.json",
    ] {
        assert!(manifest.contains(&format!("\"{f}\"")), "{f} in {manifest}");
    }
    let used = std::fs::read_to_string(dir.join("inputs/used.json")).expect("used");
    assert!(
        used.contains("features/connection_proving.feature"),
        "{used}"
    );
    assert!(used.contains("pack.toml"), "{used}");

    // The PDF opens in a renderer.
    let png = tmp.path().join("page");
    let render = Command::new("pdftoppm")
        .args(["-r", "40", "-png", "-f", "1", "-l", "1"])
        .arg(dir.join("evidence.pdf"))
        .arg(&png)
        .output()
        .expect("pdftoppm is installed");
    assert!(render.status.success(), "{}", common::output_text(&render));
    let page = std::fs::read_dir(tmp.path())
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "png"))
        .expect("a PNG page");
    assert!(std::fs::read(page).expect("png").starts_with(b"\x89PNG"));

    let verify = |dir: &Path| run(&["verify", dir.to_str().expect("utf-8")]);
    let ok = verify(&dir);
    assert_eq!(ok.status.code(), Some(0), "{}", common::output_text(&ok));
    assert!(
        common::output_text(&ok).contains("intact"),
        "{}",
        common::output_text(&ok)
    );

    // One changed byte in junit.xml, and one in the PDF: each named.
    for f in ["junit.xml", "evidence.pdf"] {
        let path = dir.join(f);
        let original = std::fs::read(&path).expect("read");
        let mut changed = original.clone();
        let i = changed.len() / 2;
        changed[i] ^= 0x01;
        std::fs::write(&path, &changed).expect("write");
        let out = verify(&dir);
        assert_eq!(out.status.code(), Some(1), "{}", common::output_text(&out));
        assert!(
            common::output_text(&out).contains(&format!("{f} changed")),
            "{}",
            common::output_text(&out)
        );
        std::fs::write(&path, &original).expect("restore");
    }
    std::fs::write(dir.join("notes.txt"), "added later").expect("write");
    let out = verify(&dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::output_text(&out).contains("notes.txt is not in the manifest"),
        "{}",
        common::output_text(&out)
    );
    std::fs::remove_file(dir.join("notes.txt")).expect("remove");
    assert_eq!(verify(&dir).status.code(), Some(0));

    // The organisation signs the seal; verify checks the signature with its public key.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519 key");
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519 key");
    let public = tmp.path().join("org-public.pem");
    let wrong = tmp.path().join("other-public.pem");
    std::fs::write(&public, key.public_key_pem()).expect("write");
    std::fs::write(&wrong, other.public_key_pem()).expect("write");
    let signed = Command::new(env!("CARGO_BIN_EXE_pdp-harness"))
        .args([
            "sign",
            dir.to_str().expect("utf-8"),
            "--key",
            "env:PDP_TEST_SIGN_KEY",
        ])
        .env("PDP_TEST_SIGN_KEY", key.serialize_pem())
        .output()
        .expect("sign runs");
    assert_eq!(
        signed.status.code(),
        Some(0),
        "{}",
        common::output_text(&signed)
    );
    assert!(
        common::output_text(&signed).contains("EdDSA"),
        "{}",
        common::output_text(&signed)
    );
    let dir_s = dir.to_str().expect("utf-8");
    let good = run(&[
        "verify",
        dir_s,
        "--public-key",
        public.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        good.status.code(),
        Some(0),
        "{}",
        common::output_text(&good)
    );
    assert!(
        common::output_text(&good).contains("signature (EdDSA) verifies"),
        "{}",
        common::output_text(&good)
    );
    let bad = run(&[
        "verify",
        dir_s,
        "--public-key",
        wrong.to_str().expect("utf-8"),
    ]);
    assert_eq!(bad.status.code(), Some(1), "{}", common::output_text(&bad));
    assert!(
        common::output_text(&bad).contains("does not verify"),
        "{}",
        common::output_text(&bad)
    );

    // Without a mask the planted value is in the evidence (so the next test can fail).
    let run_json = std::fs::read_to_string(dir.join("run.json")).expect("run.json");
    assert!(run_json.contains(PLANTED));
    assert_clean(&dir, None);
}

#[test]
fn one_redaction_policy_covers_every_output_file() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let target = tmp.path().join("target.toml");
    std::fs::write(&target, format!("[redaction]\nmask = [\"{PLANTED}\"]\n")).expect("write");
    let runs = tmp.path().join("runs");
    let out = run(&[
        "run",
        "--target",
        target.to_str().expect("utf-8"),
        "--out",
        runs.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", common::output_text(&out));
    let dir = common::only_run_dir(&runs);
    assert_clean(&dir, Some(PLANTED));
}
