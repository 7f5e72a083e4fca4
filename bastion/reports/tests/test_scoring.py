"""Scoring and classifying a report: valid vectors only, severity from the score, overrides with a reason."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.errors import ReportRejected, StaleEdit
from bastion.reports.models import Asset, Label, Program, Report, Severity, TimelineEntry, TimelineKind
from bastion.reports.scoring import (
    clean_cvss_v3,
    clean_cvss_v4,
    score_v3,
    score_v4,
    score_vector,
    severity_for,
    v3_base_metrics,
)
from bastion.reports.services import reporter_actor
from bastion.reports.services.scoring import classify_report, opened_severity_reason
from bastion.reports.tests.test_submit_report import every_stored_value, leaks

V3_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
V3_MEDIUM = "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:U/C:L/I:L/A:N"  # 4.6
V4_HIGH = "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N"
V4_CRITICAL = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"  # 9.3
REASON = "Only reachable from the admin VPN REASON-5e1a"


def rejection(call, *args) -> tuple[str, str]:
    with pytest.raises(ReportRejected) as caught:
        call(*args)
    (field,) = caught.value.message_dict
    return field, caught.value.message_dict[field][0]


# --- Vectors --------------------------------------------------------------------------------------


def test_a_valid_3_1_vector_is_normalised_and_scored():
    scored = score_v3("  cvss:3.1/AC:L/AV:N/PR:N/UI:N/S:U/C:H/I:H/A:H/E:X ")

    assert scored.vector == V3_CRITICAL
    assert scored.score == Decimal("9.8")
    assert scored.severity == Severity.CRITICAL
    assert scored.version == "3.1"


def test_a_3_1_vector_with_temporal_metrics_scores_what_it_says():
    scored = score_v3(V3_CRITICAL + "/E:U/RL:O/RC:U")

    assert (scored.score, scored.severity) == (Decimal("7.8"), Severity.HIGH)


def test_a_valid_4_0_vector_is_normalised_and_scored():
    scored = score_v4(V4_CRITICAL)

    assert scored.vector == V4_CRITICAL
    assert scored.score == Decimal("9.3")
    assert scored.severity == Severity.CRITICAL


@pytest.mark.parametrize(
    ("vector", "expected"),
    [
        ("AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 'starts with "CVSS:3.1/"'),
        ("junk", 'starts with "CVSS:3.1/"'),
        ("CVSS:3.1/", "has only its prefix"),
        ("CVSS:3.1/AV:N", 'missing mandatory metrics "AC, PR, UI, S, C, I, A"'),
        (V3_CRITICAL + "/XX:Y", 'unknown metric "XX"'),
        ("CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 'unknown value "Q" in field "AV:Q"'),
        ("CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 'duplicate metric "AV"'),
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "Bastion keeps CVSS 3.1"),
        (V4_CRITICAL, "put it in the CVSS 4.0 field"),
        ("CVSS:3.1/" + "AV:N/" * 60, "at most 200"),
    ],
)
def test_an_invalid_3_1_vector_is_refused_saying_what_is_wrong(vector, expected):
    field, message = rejection(clean_cvss_v3, vector)

    assert field == "cvss_v3"
    assert expected in message


@pytest.mark.parametrize(
    ("vector", "expected"),
    [
        ("AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 'starts with "CVSS:4.0/"'),
        ("CVSS:4.0/", "has only its prefix"),
        ("CVSS:4.0/AV:N", 'missing mandatory metrics "AC, AT, PR, UI, VC, VI, VA, SC, SI, SA"'),
        (V4_CRITICAL + "/ZZ:1", '"ZZ:1"'),
        (V4_CRITICAL.replace("AV:N", "AV:Q"), '"AV:Q"'),
        (V3_CRITICAL, "put it in the CVSS 3.1 field"),
    ],
)
def test_an_invalid_4_0_vector_is_refused_saying_what_is_wrong(vector, expected):
    field, message = rejection(clean_cvss_v4, vector)

    assert field == "cvss_v4"
    assert expected in message


def test_an_empty_vector_clears_and_the_calculator_tells_versions_apart():
    assert clean_cvss_v3("  ") == ""
    assert clean_cvss_v4("") == ""
    assert score_vector(V4_CRITICAL).version == "4.0"
    assert score_vector(V3_CRITICAL).version == "3.1"
    assert rejection(score_vector, "nonsense")[0] == "vector"


@pytest.mark.parametrize(
    ("score", "severity"),
    [
        (0, Severity.NONE),
        (0.1, Severity.LOW),
        (3.9, Severity.LOW),
        (4.0, Severity.MEDIUM),
        (6.9, Severity.MEDIUM),
        (7.0, Severity.HIGH),
        (8.9, Severity.HIGH),
        (9.0, Severity.CRITICAL),
        (10, Severity.CRITICAL),
        (None, None),
    ],
)
def test_severity_follows_the_cvss_rating_scale(score, severity):
    assert severity_for(score) == severity


def test_the_calculator_metrics_come_from_the_cvss_package():
    metrics = v3_base_metrics()

    assert [m["key"] for m in metrics] == ["AV", "AC", "PR", "UI", "S", "C", "I", "A"]
    assert ["N", "Network"] in metrics[0]["values"]


# --- The service ----------------------------------------------------------------------------------


@pytest.fixture
def report(submit) -> Report:
    return submit().report


def test_severity_follows_the_score_and_the_4_0_score_wins(report, alice):
    classify_report(report=report, actor=alice, cvss_v3=V3_MEDIUM)
    report.refresh_from_db()
    assert (report.cvss_score, report.severity) == (Decimal("4.6"), Severity.MEDIUM)

    classify_report(report=report, actor=alice, cvss_v4=V4_CRITICAL)
    report.refresh_from_db()
    assert report.cvss_v3 == V3_MEDIUM
    assert (report.cvss_score, report.severity) == (Decimal("9.3"), Severity.CRITICAL)
    assert report.severity_overridden is False

    classify_report(report=report, actor=alice, cvss_v4="")
    report.refresh_from_db()
    assert (report.cvss_v4, report.cvss_score, report.severity) == ("", Decimal("4.6"), Severity.MEDIUM)


def test_it_refuses_a_bad_vector_and_saves_nothing(report, alice):
    with pytest.raises(ReportRejected) as caught:
        classify_report(report=report, actor=alice, cvss_v3=V3_CRITICAL, cvss_v4="CVSS:4.0/AV:N")

    assert "cvss_v4" in caught.value.message_dict
    report.refresh_from_db()
    assert (report.cvss_v3, report.cvss_v4, report.version) == ("", "", 1)
    assert not TimelineEntry.objects.filter(report=report, kind=TimelineKind.CLASSIFIED).exists()


def test_an_override_needs_a_reason(report, alice):
    classify_report(report=report, actor=alice, cvss_v3=V3_CRITICAL)

    with pytest.raises(ReportRejected) as caught:
        classify_report(report=report, actor=alice, severity=Severity.LOW, expected_version=report.version)

    message = caught.value.message_dict["severity_reason"][0]
    assert message == "The score gives critical; say why this report is low instead."
    report.refresh_from_db()
    assert (report.severity, report.severity_overridden, report.version) == (Severity.CRITICAL, False, 2)


def test_an_override_with_a_reason_is_kept_sealed_and_outlives_new_scores(report, alice):
    classify_report(report=report, actor=alice, cvss_v3=V3_CRITICAL)
    classify_report(report=report, actor=alice, severity="medium", severity_reason=REASON)
    report.refresh_from_db()

    assert (report.severity, report.severity_overridden) == (Severity.MEDIUM, True)
    assert opened_severity_reason(report=report, actor=alice) == REASON
    assert leaks("REASON-5e1a", every_stored_value()) == []

    classify_report(report=report, actor=alice, cvss_v3=V3_MEDIUM.replace("C:L", "C:H"))
    report.refresh_from_db()
    assert report.severity == Severity.MEDIUM  # the override stands
    assert opened_severity_reason(report=report, actor=alice) == REASON


def test_the_reason_for_an_override_can_be_restated(report, alice):
    classify_report(report=report, actor=alice, cvss_v3=V3_CRITICAL, severity="low", severity_reason="First")

    classify_report(report=report, actor=alice, severity_reason=REASON)
    report.refresh_from_db()

    assert (report.severity, report.severity_overridden) == ("low", True)
    assert opened_severity_reason(report=report, actor=alice) == REASON


def test_following_the_score_again_lifts_the_override_and_drops_the_reason(report, alice):
    classify_report(report=report, actor=alice, cvss_v3=V3_CRITICAL, severity="low", severity_reason=REASON)

    classify_report(report=report, actor=alice, severity=None)
    report.refresh_from_db()

    assert (report.severity, report.severity_overridden, report.severity_reason) == ("critical", False, None)
    assert opened_severity_reason(report=report, actor=alice) is None


def test_choosing_the_severity_the_score_gives_is_no_override(report, alice):
    classify_report(report=report, actor=alice, cvss_v3=V3_CRITICAL, severity="critical")
    report.refresh_from_db()

    assert (report.severity, report.severity_overridden) == ("critical", False)


def test_a_severity_without_any_vector_is_an_override_and_needs_a_reason(report, alice):
    with pytest.raises(ReportRejected, match="no severity"):
        classify_report(report=report, actor=alice, severity="high")

    classify_report(report=report, actor=alice, severity="high", severity_reason="Clear account takeover.")
    report.refresh_from_db()
    assert (report.severity, report.severity_overridden, report.cvss_score) == ("high", True, None)


def test_a_stale_edit_is_refused_and_nothing_is_saved(report, alice, bob):
    seen = report.version
    classify_report(report=report, actor=bob, cvss_v3=V3_MEDIUM, expected_version=seen)

    with pytest.raises(StaleEdit):
        classify_report(
            report=Report.objects.get(pk=report.pk),
            actor=alice,
            cvss_v3=V3_CRITICAL,
            labels=["payments"],
            expected_version=seen,
        )

    report.refresh_from_db()
    assert report.cvss_v3 == V3_MEDIUM
    assert report.version == seen + 1
    assert not Label.objects.exists()
    assert TimelineEntry.objects.filter(report=report, kind=TimelineKind.CLASSIFIED).count() == 1


def test_labels_are_created_and_set(report, alice):
    Label.objects.create(name="payments")

    classify_report(report=report, actor=alice, labels=["Payments", "needs-poc", " needs-poc "])

    assert sorted(report.labels.values_list("name", flat=True)) == ["needs-poc", "payments"]
    assert Label.objects.count() == 2

    classify_report(report=report, actor=alice, labels=[])
    assert not report.labels.exists()


@pytest.mark.parametrize("bad", ["needs poc", "naïve!", "x" * 41])
def test_a_malformed_label_is_refused_with_a_clear_error(report, alice, bad):
    with pytest.raises(ReportRejected) as caught:
        classify_report(report=report, actor=alice, labels=["fine", bad])

    assert "cannot be a label" in caught.value.message_dict["labels"][0]
    assert not Label.objects.exists()


def test_the_cwe_and_asset_are_set_and_cleared(report, alice):
    asset = Asset.objects.create(name="billing-api", program=Program.objects.default())

    classify_report(report=report, actor=alice, cwe_id="CWE-89", asset=asset)
    report.refresh_from_db()
    assert (report.cwe_id, report.asset) == (89, asset)

    classify_report(report=report, actor=alice, cwe_id=None, asset=None)
    report.refresh_from_db()
    assert (report.cwe_id, report.asset) == (None, None)


def test_an_unknown_cwe_is_refused(report, alice):
    with pytest.raises(ReportRejected) as caught:
        classify_report(report=report, actor=alice, cwe_id=99999)

    assert caught.value.message_dict["cwe_id"][0].startswith("CWE-99999 is not in the bundled CWE list")


def test_an_archived_asset_takes_no_new_reports(report, alice):
    old = Asset.objects.create(name="legacy-portal", program=Program.objects.default(), archived=True)

    with pytest.raises(ReportRejected, match="legacy-portal is archived"):
        classify_report(report=report, actor=alice, asset=old)


def test_the_timeline_and_audit_say_what_changed_but_never_why(report, alice):
    classify_report(
        report=report,
        actor=alice,
        cvss_v3=V3_CRITICAL,
        cwe_id=79,
        severity="low",
        severity_reason=REASON,
        labels=["xss"],
        ip="192.0.2.7",
    )

    entry = TimelineEntry.objects.get(report=report, kind=TimelineKind.CLASSIFIED)
    assert entry.public is False
    audit = AuditEvent.objects.get(event=Event.REPORT_CLASSIFIED)
    assert audit.actor_id == alice.pk
    for data in (entry.data, audit.data):
        assert data["fields"] == [
            "cvss_score",
            "cvss_v3",
            "cwe_id",
            "labels",
            "severity",
            "severity_overridden",
            "severity_reason",
        ]
        assert (data["cvss_v3"], data["cwe_id"], data["severity"], data["labels"]) == (
            V3_CRITICAL,
            79,
            "low",
            ["xss"],
        )
        assert "REASON-5e1a" not in str(data)


def test_a_save_that_changes_nothing_writes_nothing(report, alice):
    classify_report(report=report, actor=alice, cvss_v3=V3_CRITICAL, labels=["xss"])
    version = report.version

    classify_report(report=report, actor=alice, cvss_v3=V3_CRITICAL, labels=["xss"], expected_version=version)

    report.refresh_from_db()
    assert report.version == version
    assert AuditEvent.objects.filter(event=Event.REPORT_CLASSIFIED).count() == 1


def test_a_severity_change_moves_the_resolution_clock(report, alice, monkeypatch):
    calls = []
    monkeypatch.setattr(
        "bastion.reports.clocks.on_severity_change", lambda r, *, at: calls.append(r.severity)
    )

    classify_report(report=report, actor=alice, cvss_v3=V3_CRITICAL)
    classify_report(report=report, actor=alice, cwe_id=79)

    assert calls == ["critical"]


@pytest.mark.parametrize("who", ["charlie", "reporter"])
def test_it_rejects_viewers_and_reporters(report, charlie, who):
    actor = charlie if who == "charlie" else reporter_actor(report)

    with pytest.raises(PermissionDenied):
        classify_report(report=report, actor=actor, cvss_v3=V3_CRITICAL)

    report.refresh_from_db()
    assert report.cvss_v3 == ""
