//! View data as the reference provider returns it: `{"arrangements": [...]}` with the field
//! model of the data standards as used by MaPS's dashboard (digest section 5). A possible
//! match gets the limited response only: scheme name, possible-match flag and reference,
//! administrator contact; never values, dates or employment.

use serde_json::{Value, json};

use crate::testpack::{Pension, TestPack};

/// Round to pence: amounts are JSON numbers with `multipleOf 0.01`.
fn money(v: f64) -> Value {
    json!((v * 100.0).round() / 100.0)
}

fn administrator(pack: &TestPack) -> Value {
    let p = &pack.provider;
    json!({
        "name": p.administrator_name,
        "contactMethods": [
            { "preferred": true, "contactMethodDetails": { "email": p.administrator_email } },
            { "preferred": false, "contactMethodDetails": { "number": p.administrator_phone, "usage": ["W"] } }
        ]
    })
}

/// The full arrangement of a confirmed match.
pub fn arrangement(pack: &TestPack, pension: &Pension) -> Value {
    let member_dob = pack
        .persona(pension.member.get_ref())
        .map(|p| p.date_of_birth.clone());
    let components: Vec<Value> = pension
        .illustration
        .components
        .iter()
        .map(|c| {
            let mut component = json!({
                "illustrationType": c.illustration_type,
                "benefitType": c.benefit_type,
                "calculationMethod": c.calculation_method,
                "payableDetails": {
                    "amountType": "INC",
                    "annualAmount": money(c.annual_amount),
                    "monthlyAmount": money(c.monthly_amount),
                    "payableDate": c.payable_date,
                    "increasing": c.increasing,
                }
            });
            if let (Some(pot), "DC") = (pension.illustration.dc_pot, c.benefit_type.as_str()) {
                component["dcPot"] = money(pot);
            }
            component
        })
        .collect();
    json!({
        "pensionProviderSchemeName": pack.provider.scheme_name,
        "pensionReference": pension.pension_reference,
        "pensionType": pension.pension_type,
        "pensionOrigin": pension.pension_origin,
        "pensionStatus": pension.pension_status,
        "pensionStartDate": pension.start_date,
        "retirementDate": pension.retirement_date,
        "dateOfBirth": member_dob,
        "pensionAdministrator": administrator(pack),
        "employmentMembershipPeriods": [{
            "employerName": pension.employer_name,
            "employerStatus": pension.employer_status,
            "membershipStartDate": pension.employment_start,
        }],
        "benefitIllustrations": [{
            "illustrationDate": pension.illustration.date,
            "illustrationComponents": components,
        }],
    })
}

/// The limited response for a possible match (Reg. 23(4)).
pub fn possible_match_arrangement(pack: &TestPack, pension: &Pension) -> Value {
    json!({
        "pensionProviderSchemeName": pack.provider.scheme_name,
        "possibleMatch": true,
        "possibleMatchReference": pension.pension_reference,
        "pensionAdministrator": administrator(pack),
    })
}

pub fn view_data(arrangements: Vec<Value>) -> Value {
    json!({ "arrangements": arrangements })
}
