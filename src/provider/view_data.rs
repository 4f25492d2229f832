//! View data as the reference provider returns it: `{"arrangements": [...]}` in the data
//! standards field model as MaPS's dashboard reads it (live-cda/04-view-data-rules.md), valid
//! against the project's own view data schema and MaPS's stricter one.
//!
//! - Every arrangement carries `possibleMatch` (false on definite ones: MaPS's dashboard
//!   cannot read an arrangement without it).
//! - A possible match gets the limited response only: scheme name, possible-match flag and
//!   reference, administrator contact; never values, dates or employment.
//! - A value that cannot be returned yet keeps its component, with an unavailable code
//!   (`unavailableReason`, e.g. DBC or DCC) instead of payable details.
//! - Split administration returns every arrangement of the pension in one response.
//! - Data items 2.004 (contact the scheme), 2.005 (administrative details not available, new
//!   member) and 2.006 (temporary system error) are the arrangement flags `contactScheme`,
//!   `administrativeDetailsNotAvailable` and `temporarySystemError`.
//! - Pots are `estimatedPot` (ERI, 2.310) and `accruedPot` (AP, 2.410); recurring income
//!   carries no `monthlyAmount` (only the older of MaPS's schemas has 2.307/2.407).

use serde_json::{Value, json};

use super::faults::{Fault, Faults};
use super::members::{MemberRecords, Pension};

/// Round to pence: amounts are JSON numbers with `multipleOf 0.01`.
fn money(v: f64) -> Value {
    json!((v * 100.0).round() / 100.0)
}

fn administrator(pack: &dyn MemberRecords, name: Option<&str>) -> Value {
    let p = pack.provider();
    json!({
        "name": name.unwrap_or(&p.administrator_name),
        "contactMethods": [
            { "preferred": true, "contactMethodDetails": { "email": p.administrator_email } },
            { "preferred": false, "contactMethodDetails": { "number": p.administrator_phone, "usage": ["W"] } }
        ]
    })
}

fn components(pension: &Pension, faults: &Faults) -> Vec<Value> {
    pension
        .illustration
        .components
        .iter()
        .filter(|c| {
            // Deliberate defect: leave out a component whose value is not available.
            !(faults.has(Fault::OmitsUnavailableComponent) && c.unavailable_reason.is_some())
        })
        .map(|c| {
            let mut component = json!({
                "illustrationType": c.illustration_type,
                "benefitType": c.benefit_type,
                "calculationMethod": c.calculation_method,
            });
            match (&c.unavailable_reason, c.annual_amount) {
                (Some(code), _) => component["unavailableReason"] = json!(code),
                (None, Some(annual)) => {
                    // Deliberate defect: a value that is not the provisioned one.
                    let annual = if faults.has(Fault::WrongAnnualAmount) {
                        annual + 1.0
                    } else {
                        annual
                    };
                    component["payableDetails"] = json!({
                        "amountType": "INC",
                        "annualAmount": money(annual),
                        "payableDate": c.payable_date,
                        "increasing": c.increasing,
                    });
                    if let (true, Some(monthly)) =
                        (faults.has(Fault::SendsMonthlyAmount), c.monthly_amount)
                    {
                        component["payableDetails"]["monthlyAmount"] = money(monthly);
                    }
                }
                _ => component["unavailableReason"] = json!("ANO"),
            }
            let ap = c.illustration_type == "AP";
            if ap && c.unavailable_reason.is_none() {
                // Deliberate defects: a code the data standards do not have (DCSM appears
                // only in a code's description), or an ERI-only code on an AP component.
                if faults.has(Fault::UnknownUnavailableCode) {
                    component["unavailableReason"] = json!("DCSM");
                } else if faults.has(Fault::UnavailableCodeOnWrongComponent) {
                    component["unavailableReason"] = json!("DCHA");
                }
            }
            if let (Some(pot), "DC", None) = (
                pension.illustration.dc_pot,
                c.benefit_type.as_str(),
                &c.unavailable_reason,
            ) {
                let name = if faults.has(Fault::UsesDcPot) {
                    // Deliberate defect: the 2024 internal name instead of 2.310/2.410.
                    "dcPot"
                } else if ap {
                    "accruedPot"
                } else {
                    "estimatedPot"
                };
                component[name] = money(pot);
            }
            component
        })
        .collect()
}

/// The full arrangement(s) of a confirmed match: one, or several under split administration.
pub fn arrangements(pack: &dyn MemberRecords, pension: &Pension, faults: &Faults) -> Vec<Value> {
    let mut out = definite_arrangements(pack, pension, faults);
    if faults.has(Fault::OmitsPossibleMatch) {
        // Deliberate defect: definite arrangements without `possibleMatch: false`.
        for a in &mut out {
            if let Some(o) = a.as_object_mut() {
                o.remove("possibleMatch");
            }
        }
    }
    out
}

fn definite_arrangements(
    pack: &dyn MemberRecords,
    pension: &Pension,
    faults: &Faults,
) -> Vec<Value> {
    let scheme = &pack.provider().scheme_name;
    if pension.new_member || pension.temporary_error || pension.contact_scheme {
        let flag = if pension.new_member {
            "administrativeDetailsNotAvailable"
        } else if pension.temporary_error {
            "temporarySystemError"
        } else {
            "contactScheme"
        };
        let mut a = json!({
            "possibleMatch": false,
            "pensionProviderSchemeName": scheme,
            "pensionReference": pension.pension_reference,
            "pensionAdministrator": administrator(pack, None),
        });
        a[flag] = json!(true);
        return vec![a];
    }
    let member_dob = pack
        .member(pension.member.get_ref())
        .map(|p| p.date_of_birth.clone());
    let mut main = json!({
        "possibleMatch": false,
        "pensionProviderSchemeName": scheme,
        "pensionReference": pension.pension_reference,
        "pensionType": pension.pension_type,
        "pensionOrigin": pension.pension_origin,
        "pensionStatus": pension.pension_status,
        "pensionStartDate": pension.start_date,
        "retirementDate": pension.retirement_date,
        "dateOfBirth": member_dob,
        "pensionAdministrator": administrator(pack, None),
        "employmentMembershipPeriods": [{
            "employerName": pension.employer_name,
            "employerStatus": pension.employer_status,
            "employmentStartDate": pension.employment_start,
        }],
        "benefitIllustrations": [{
            "illustrationDate": pension.illustration.date,
            "illustrationComponents": components(pension, faults),
        }],
    });
    if faults.has(Fault::FutureIllustrationDate) {
        // Deliberate defect: values illustrated as at tomorrow.
        let tomorrow = chrono::Utc::now().date_naive() + chrono::Days::new(1);
        main["benefitIllustrations"][0]["illustrationDate"] = json!(tomorrow.to_string());
    }
    let mut out = vec![main];
    for split in &pension.split {
        out.push(json!({
            "possibleMatch": false,
            "pensionProviderSchemeName": scheme,
            "pensionReference": split.pension_reference,
            "pensionType": split.pension_type,
            "pensionOrigin": pension.pension_origin,
            "pensionStatus": pension.pension_status,
            "dateOfBirth": member_dob,
            "pensionAdministrator": administrator(pack, Some(&split.administrator_name)),
        }));
    }
    out
}

/// The limited response for a possible match (Reg. 23(4)).
pub fn possible_match_arrangements(
    pack: &dyn MemberRecords,
    pension: &Pension,
    faults: &Faults,
) -> Vec<Value> {
    let mut limited = json!({
        "pensionProviderSchemeName": pack.provider().scheme_name,
        "possibleMatch": true,
        "possibleMatchReference": pension.pension_reference,
        "pensionAdministrator": administrator(pack, None),
    });
    if faults.has(Fault::AdditionalDataSourcesInPossibleMatch) {
        // Deliberate defect: links to further information in a limited response.
        limited["additionalDataSources"] = json!([
            { "url": "https://northwind.example/scheme-guide", "informationType": "SIP" }
        ]);
    }
    if faults.has(Fault::MixesPossibleAndDefinite) {
        // Deliberate defect: a definite arrangement slipped in beside the limited one.
        let mut out = vec![limited];
        out.extend(arrangements(pack, pension, faults));
        return out;
    }
    vec![limited]
}

pub fn view_data(arrangements: Vec<Value>) -> Value {
    json!({ "arrangements": arrangements })
}
