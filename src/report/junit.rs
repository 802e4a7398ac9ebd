//! `junit.xml` through quick-junit: one testsuite per lane, a testcase per
//! gate and per fixture case. Failing gates are `<failure>`, target or
//! infrastructure errors `<error>`, waived gates `<skipped>` with the
//! waiver's expiry and tracking issue. quick-junit escapes XML and drops
//! characters XML cannot hold.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::html::visible;
use super::model::{GateReport, Verdict};
use crate::evaluate::GateStatus;

fn gate_message(g: &GateReport) -> String {
    let view = g.view();
    let interval = view.interval.map(|i| format!(" {i}")).unwrap_or_default();
    format!("{}: value {}{interval}, threshold {}, {} samples", view.status, view.value, view.threshold, g.samples)
}

pub fn render_junit(v: &Verdict) -> String {
    let mut report = Report::new("gauntlet");
    let mut suite = TestSuite::new(format!("gauntlet-{}", v.run.lane.as_str()));
    for g in &v.gates {
        let status = match g.status {
            GateStatus::Pass => TestCaseStatus::success(),
            GateStatus::Waived => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(visible(&g.view().note));
                s
            }
            GateStatus::Error => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(visible(&gate_message(g))).set_description(visible(&g.detail));
                s
            }
            GateStatus::Fail | GateStatus::Inconclusive => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(visible(&gate_message(g))).set_description(visible(&g.detail));
                s
            }
        };
        let mut case = TestCase::new(format!("gate::{}", visible(&g.id)), status);
        case.set_classname(format!("gauntlet.{}", v.run.lane.as_str()));
        suite.add_test_case(case);
    }
    for s in &v.fixtures {
        for c in &s.cases {
            let status = if c.pass {
                TestCaseStatus::success()
            } else if let Some(w) = &c.waiver {
                let mut st = TestCaseStatus::skipped();
                st.set_message(visible(&format!("waived until {} ({})", w.expires, w.tracking)));
                st
            } else {
                let kind = if c.error.is_some() { NonSuccessKind::Error } else { NonSuccessKind::Failure };
                let actual = match (&c.actual, &c.error) {
                    (Some(d), _) => d.as_str().to_string(),
                    (None, Some(e)) => format!("error: {}", e.message),
                    _ => "missing".into(),
                };
                let mut st = TestCaseStatus::non_success(kind);
                st.set_message(visible(&format!("expected {}, got {}", c.expect.as_str(), actual)))
                    .set_description(visible(&format!("reasons: {}\ninput: {}", c.reasons.join(", "), c.text)));
                st
            };
            let mut case = TestCase::new(format!("fixture::{}", visible(&c.qualified_name)), status);
            case.set_classname(format!("gauntlet.{}.fixtures", v.run.lane.as_str()));
            suite.add_test_case(case);
        }
    }
    report.add_test_suite(suite);
    report.to_string().expect("junit serialises")
}
