"""Health in the browser: the account page's health card (score, band, explanation, what
changed, missing and stale data, trend markers, signals), overrides, the scorecard pages
(list, detail, editor with what-if, backtest), the accounts list's band column and filter, and
who may do what."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from cs_app.accounts.ingest import ingest_events
from cs_app.accounts.usage_models import AccountSignals
from cs_app.audit.models import AuditEvent
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.health import service
from cs_app.health.models import HealthOverride, HealthSnapshot, Scorecard, ScorecardVersion
from cs_app.health.recompute import recompute
from tests.factories import AccountFactory, UserFactory


@pytest.fixture
def clock():
    """The views read the real clock; the data is laid out relative to it."""
    return utcnow().replace(second=0, microsecond=0)


@pytest.fixture
def lead(app, login):
    user = UserFactory(role="lead", name="Lena Lead")
    db.session.commit()
    login(user)
    return user


def card(key="health-indicators") -> Scorecard:
    return db.session.scalar(select(Scorecard).where(Scorecard.key == key))


def text_of(html: str) -> str:
    """The page's text with tags dropped and whitespace collapsed, for phrase checks."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def section(html: str, element_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{element_id}".*?</section>', html, re.S)
    assert match, f"no section #{element_id}"
    return match.group(0)


def event(n, account, kind, at, **properties):
    return {
        "id": f"{account}-{kind}-{n}",
        "account": account,
        "type": kind,
        "at": at.isoformat(),
        "user": "u1",
        "properties": properties or None,
    }


@pytest.fixture
def slipping_account(app, clock):
    """An SMB account (Health Indicators) that was perfect 30 days ago and is critical now:
    logins and features stopped, the NPS went stale, support sentiment was never recorded."""
    account = AccountFactory(external_id="ACME", name="Acme Logistics", segment="SMB")
    month_ago = clock - timedelta(days=31)
    ingest_events(
        [
            event(0, "ACME", "login", month_ago),
            *(event(i, "ACME", "feature_used", month_ago, feature=f"f{i}") for i in range(3)),
            event(0, "ACME", "nps_response", clock - timedelta(days=200), score=10),
        ],
        now=month_ago,
    )
    recompute(now=clock - timedelta(days=30))
    recompute(now=clock - timedelta(days=7))
    recompute(now=clock)
    db.session.commit()
    return account


# --- the health card ------------------------------------------------------------------------


def test_health_card_explains_the_score_and_what_changed(client, lead, slipping_account):
    html = client.get("/accounts/ACME").get_data(as_text=True)
    card_html = section(html, "health")
    text = text_of(card_html)
    assert "Health Indicators" in text and "version 1" in text
    assert 'class="health-score band-critical"' in card_html
    assert 'aria-label="Health score">0<' in card_html
    assert "Coverage 50 %" in text
    assert "Score dropped 100 points in 30 days." in text
    rows = re.findall(r'<tr class="measure[^"]*" id="measure-([a-z_]+)"', card_html)
    # the two measures that cost points first; those without data last
    assert rows[:2] == ["login_frequency", "feature_adoption"]
    assert set(rows[2:]) == {"support_sentiment", "nps"}
    login_row = text_of(
        re.search(r'id="measure-login_frequency".*?</tr>', card_html, re.S).group(0)
    )
    assert "Login frequency" in login_row and "31" in login_row and "50.0" in login_row
    # 24 days without a login a week ago scored 26.1; a day without one a month ago, 100
    assert "25 %" in login_row and login_row.split()[-4:] == ["▼", "26.1", "▼", "100"]
    assert "no data" in text_of(
        re.search(r'id="measure-support_sentiment".*?</tr>', card_html, re.S).group(0)
    )
    assert "stale: older than 180 days" in text
    assert "No data: Support sentiment." in text
    assert "Stale: NPS response (older than 180 days)" in text


def test_what_changed_compares_with_7_and_30_days(client, lead, slipping_account):
    card_html = section(client.get("/accounts/ACME").get_data(as_text=True), "health")
    features = text_of(
        re.search(r'id="measure-feature_adoption".*?</tr>', card_html, re.S).group(0)
    )
    # the features used 31 days ago counted 7 and 30 days ago, not today
    assert features.split()[-4:] == ["▼", "100", "▼", "100"]
    nps = text_of(re.search(r'id="measure-nps".*?</tr>', card_html, re.S).group(0))
    assert nps.split()[-2:] == ["—", "—"]  # stale now: nothing to compare


def test_trend_marks_the_day_the_scorecard_version_changed(client, lead, slipping_account, clock):
    values = service.scorecard_as_dict(card())
    values["measures"][0]["weight"], values["measures"][1]["weight"] = 40, 10
    service.save_version(card(), values, user=lead, now=clock - timedelta(days=3))
    recompute(now=clock)
    db.session.commit()
    card_html = section(client.get("/accounts/ACME").get_data(as_text=True), "health")
    assert "version 2" in text_of(card_html)
    marker = re.search(r'<g class="marker">.*?</g>', card_html, re.S)
    assert marker and "Health Indicators v2" in marker.group(0)
    assert "<title" in card_html and 'role="img"' in card_html


def test_insufficient_data_is_never_a_confident_colour(client, lead, clock):
    AccountFactory(external_id="QUIET", segment="SMB")
    recompute(now=clock)
    db.session.commit()
    card_html = section(client.get("/accounts/QUIET").get_data(as_text=True), "health")
    assert 'class="health-score band-insufficient_data"' in card_html
    assert "badge-band-insufficient_data" in card_html
    assert not re.search(
        r"badge-band-(healthy|at_risk|critical)\"", card_html.split("Why this score")[0]
    )
    assert 'aria-label="Health score">—<' in card_html
    assert (
        "Insufficient data. Only 0 % of the scorecard's weight had fresh data; a band "
        "needs at least 50 %."
    ) in text_of(card_html)


def test_an_account_never_scored_says_when_it_will_be(client, lead):
    AccountFactory(external_id="NEW")
    db.session.commit()
    html = client.get("/accounts/NEW").get_data(as_text=True)
    assert "Not scored yet. The account is not waiting for the catch-up run; the daily " in (
        text_of(section(html, "health"))
    )
    assert "Signals not computed yet: they come with the health score." in section(html, "signals")
    assert "cs-app" not in section(html, "health") + section(html, "signals")


def test_signals_panel_lists_every_signal_with_its_value(client, lead, slipping_account):
    signals = text_of(section(client.get("/accounts/ACME").get_data(as_text=True), "signals"))
    assert "Days since last login 31" in signals
    assert "Features used (30 days) 0" in signals
    assert "NPS category Promoter" in signals
    assert "Health band Critical" in signals
    assert "Plan review overdue No" in signals and "Trial days left —" in signals
    assert signals.count("●") >= 4  # the scorecard's signals are marked


# --- overrides ------------------------------------------------------------------------------


def override_form(clock, **changes):
    values = {
        "band": "critical",
        "score": "",
        "reason": "Executive sponsor resigned; renewal at risk.",
        "expires_on": (clock.date() + timedelta(days=40)).isoformat(),
    }
    values.update(changes)
    return {f"override-{name}": value for name, value in values.items()}


def test_override_shows_beside_the_computed_score(client, lead, clock):
    AccountFactory(external_id="OVR", segment="SMB")
    ingest_events(
        [
            event(0, "OVR", "login", clock - timedelta(hours=2)),
            *(
                event(i, "OVR", "feature_used", clock - timedelta(hours=2), feature=f"f{i}")
                for i in range(3)
            ),
        ],
        now=clock,
    )
    recompute(now=clock)
    db.session.commit()
    response = client.post("/accounts/OVR/health/override", data=override_form(clock))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/accounts/OVR#health")
    until = (clock.date() + timedelta(days=40)).isoformat()
    page = client.get("/accounts/OVR").get_data(as_text=True)
    text = text_of(section(page, "health"))
    assert f"Health overridden to Critical until {until}." in text_of(page)
    assert (
        f"Critical (override by Lena Lead, until {until}: Executive sponsor resigned; "
        f"renewal at risk.) · computed 100 Healthy"
    ) in text
    db.session.expire_all()
    assert (
        db.session.scalar(
            select(AuditEvent.action).where(AuditEvent.entity_type == "account_health")
        )
        == "override_set"
    )

    response = client.post("/accounts/OVR/health/override/clear")
    assert response.status_code == 302
    page = client.get("/accounts/OVR").get_data(as_text=True)
    assert "Override cleared" in page and "override by" not in page
    assert 'class="health-score band-healthy"' in page


def test_override_with_a_score_only(client, lead, clock):
    AccountFactory(external_id="OVS", segment="SMB")
    db.session.commit()
    response = client.post(
        "/accounts/OVS/health/override", data=override_form(clock, band="", score="35")
    )
    assert response.status_code == 302
    db.session.expire_all()
    override = db.session.scalar(select(HealthOverride))
    assert (override.band, override.score) == (None, 35.0)
    assert "score 35" in text_of(
        section(client.get("/accounts/OVS").get_data(as_text=True), "health")
    )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"reason": ""}, "reason", "Say why (at least a few words): the next person will ask."),
        ({"expires_on": "2020-01-01"}, "expires_on", "The override must end after today."),
        (
            {"expires_on": "next week"},
            "expires_on",
            "Give the date the override ends (YYYY-MM-DD).",
        ),
        ({"band": "purple"}, "band", "Band must be healthy, at_risk or critical."),
        ({"band": "", "score": ""}, "band", "Override the band, the score or both."),
        ({"score": "140"}, "score", "Score must be a number from 0 to 100."),
    ],
)
def test_override_refusals_are_shown_next_to_the_field(
    client, lead, clock, changes, field, message
):
    AccountFactory(external_id="BAD", segment="SMB")
    db.session.commit()
    data = override_form(clock, **{"reason": "Sponsor left the company", **changes})
    response = client.post("/accounts/BAD/health/override", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'<p class="field-error" id="override-{field}-error">{message}</p>' in unescape(html)
    assert '<details class="editor" id="health-override" open>' in html
    # what was typed is kept
    if changes.get("reason", "x"):
        assert "Sponsor left the company" in html
    assert f'value="{data["override-expires_on"]}"' in html
    db.session.expire_all()
    assert db.session.scalar(select(func.count(HealthOverride.id))) == 0


@pytest.mark.parametrize("role", ["viewer", "csm_other"])
def test_viewers_and_other_csms_may_not_override(app, client, login, clock, role):
    owner = UserFactory(role="csm")
    user = UserFactory(role=role.split("_")[0])
    AccountFactory(external_id="OWNED", csm=owner)
    db.session.commit()
    login(user)
    assert (
        client.post("/accounts/OWNED/health/override", data=override_form(clock)).status_code == 403
    )
    assert client.post("/accounts/OWNED/health/override/clear").status_code == 403
    page = client.get("/accounts/OWNED").get_data(as_text=True)
    assert "health-override" not in page and "Clear override" not in page


def test_the_accounts_csm_may_override(app, client, login, clock):
    owner = UserFactory(role="csm", name="Casey Owner")
    AccountFactory(external_id="MINE", csm=owner, segment="SMB")
    db.session.commit()
    login(owner)
    assert (
        client.post("/accounts/MINE/health/override", data=override_form(clock)).status_code == 302
    )
    assert "override by Casey Owner" in client.get("/accounts/MINE").get_data(as_text=True)


# --- the account page and the list stay cheap -----------------------------------------------


def test_account_page_queries_do_not_grow_with_history(client, lead, count_queries, clock):
    account = AccountFactory(external_id="HIST", segment="SMB")
    recompute(now=clock)
    db.session.commit()
    db.session.expire_all()
    with count_queries() as one_day:
        assert client.get("/accounts/HIST").status_code == 200
    snapshot = db.session.scalar(
        select(HealthSnapshot).where(HealthSnapshot.account_id == account.id)
    )
    for days_ago in range(1, 80):
        db.session.add(
            HealthSnapshot(
                account_id=account.id,
                day=snapshot.day - timedelta(days=days_ago),
                scorecard_version_id=snapshot.scorecard_version_id,
                score=50.0 + days_ago % 20,
                band="at_risk",
                coverage=1.0,
                computed_score=50.0,
                computed_band="at_risk",
                measures=snapshot.measures,
            )
        )
    db.session.commit()
    db.session.expire_all()
    with count_queries() as eighty_days:
        html = client.get("/accounts/HIST").get_data(as_text=True)
    assert html.count('class="hit"') >= 70
    assert one_day.count == eighty_days.count, eighty_days.statements
    # the account page's own 8 plus health's 8: trend, 7 and 30 days back, version and its
    # measures, override, signals, version labels; the nav's unread-alert count; the rules
    # card's firings, queue items and touchpoints
    assert eighty_days.count <= 20, eighty_days.statements


def test_accounts_list_has_a_band_column_and_filter(client, lead, count_queries, clock):
    bands = {
        "HEALTHY": ("healthy", 82.0),
        "RISKY": ("at_risk", 55.0),
        "THIN": ("insufficient_data", None),
        "UNSCORED": (None, None),
    }
    for external_id, (band, score) in bands.items():
        account = AccountFactory(external_id=external_id, name=f"{external_id.title()} Co")
        if band:
            db.session.add(
                AccountSignals(
                    account_id=account.id, computed_at=clock, health_band=band, health_score=score
                )
            )
    db.session.commit()
    db.session.expire_all()
    with count_queries() as counter:
        html = client.get("/accounts").get_data(as_text=True)
    assert counter.count <= 5, counter.statements
    text = text_of(html)
    assert "Healthy 82" in text and "At risk 55" in text and "Insufficient data" in text
    assert "Not scored" in text

    def names(query):
        return re.findall(
            r'class="account-name">([^<]+)</a>',
            client.get(f"/accounts?{query}").get_data(as_text=True),
        )

    assert names("band=healthy") == ["Healthy Co"]
    assert names("band=at_risk") == ["Risky Co"]
    assert names("band=insufficient_data") == ["Thin Co"]
    assert names("band=none") == ["Unscored Co"]
    assert names("band=purple") == ["Healthy Co", "Risky Co", "Thin Co", "Unscored Co"]
    # never scored (no score either way) last, then by name in the same direction
    assert names("sort=health&dir=desc") == ["Healthy Co", "Risky Co", "Unscored Co", "Thin Co"]
    assert names("sort=health") == ["Risky Co", "Healthy Co", "Thin Co", "Unscored Co"]
    assert '<option value="at_risk" selected>At risk</option>' in client.get(
        "/accounts?band=at_risk"
    ).get_data(as_text=True)


# --- scorecards -----------------------------------------------------------------------------


def editor_form(scorecard: Scorecard | None = None, action="save", **changes):
    """The scorecard editor as the page fills it in, with ``changes`` typed over it;
    ``m0_weight="40"`` changes the first measure's weight."""
    definition = service.scorecard_as_dict(scorecard or card())
    data = {
        "name": definition["name"],
        "segment": definition["segment"] or "",
        "healthy_min": f"{definition['healthy_min']:g}",
        "at_risk_min": f"{definition['at_risk_min']:g}",
        "coverage_floor": f"{definition['coverage_floor'] * 100:g}",
        "note": "",
        "action": action,
    }
    for i, m in enumerate(definition["measures"]):
        metric = m["signal"].startswith("metric.")
        data.update(
            {
                f"m-{i}-key": m["key"],
                f"m-{i}-label": m["label"],
                f"m-{i}-signal": "" if metric else m["signal"],
                f"m-{i}-metric": m["signal"][7:] if metric else "",
                f"m-{i}-weight": f"{m['weight']:g}",
                f"m-{i}-direction": "higher" if m["higher_is_better"] else "lower",
                f"m-{i}-healthy": "" if m["healthy"] is None else f"{m['healthy']:g}",
                f"m-{i}-critical": "" if m["critical"] is None else f"{m['critical']:g}",
                f"m-{i}-categories": ", ".join(
                    f"{k}={v}" for k, v in (m["categories"] or {}).items()
                ),
                f"m-{i}-freshness_days": ""
                if m["freshness_days"] is None
                else str(m["freshness_days"]),
            }
        )
    for blank in range(len(definition["measures"]), len(definition["measures"]) + 3):
        data.update({f"m-{blank}-{name}": "" for name in ("key", "label", "signal", "weight")})
        data[f"m-{blank}-direction"] = "higher"
    for name, value in changes.items():
        match = re.fullmatch(r"m(\d+)_(\w+)", name)
        data[f"m-{match.group(1)}-{match.group(2)}" if match else name] = value
    return data


def test_scorecard_list_reads_in_a_fixed_number_of_queries(client, lead, count_queries, clock):
    db.session.expire_all()
    with count_queries() as two:
        html = client.get("/scorecards").get_data(as_text=True)
    text = text_of(html)
    assert "Health Indicators All other accounts v1 4" in text
    assert "Mid-market weighted health Mid-Market v1 5" in text
    for n in range(3):
        values = service.scorecard_as_dict(card())
        values.update(name=f"Extra {n}", key=f"extra-{n}", segment="Enterprise")
        service.create_scorecard(values, user=lead, now=clock)
    db.session.commit()
    db.session.expire_all()
    with count_queries() as five:
        html = client.get("/scorecards").get_data(as_text=True)
    assert "Extra 2" in html and "Lena Lead" in html
    assert two.count == five.count <= 3, five.statements


def test_scorecard_page_shows_measures_versions_and_audit_log(client, lead, clock):
    service.save_version(
        card(),
        editor_values(m0_weight=40, m1_weight=10, note="Logins matter"),
        user=lead,
        now=clock,
    )
    db.session.commit()
    html = client.get(f"/scorecards/{card().id}").get_data(as_text=True)
    text = text_of(html)
    assert "version 2" in text and "Logins matter" in text
    assert "Login frequency login_frequency Days since last login" in text and "40 %" in text
    assert "promoter → Healthy" in text
    audit = text_of(section(html, "audit"))
    assert "Lena Lead" in audit and "New version v2" in audit
    assert "Login frequency weight: 25 → 40" in audit
    assert "Feature adoption weight: 25 → 10" in audit


def editor_values(**changes):
    """What the service receives for ``editor_form(**changes)``."""
    values = service.scorecard_as_dict(card())
    for name, value in changes.items():
        match = re.fullmatch(r"m(\d+)_(\w+)", name)
        if match:
            values["measures"][int(match.group(1))][match.group(2)] = value
        else:
            values[name] = value
    return values


def test_editing_a_scorecard_saves_a_new_version(client, lead):
    scorecard_id = card().id
    form = client.get(f"/scorecards/{scorecard_id}/edit").get_data(as_text=True)
    assert 'value="login_frequency"' in form and "Total weight" in form
    data = editor_form(
        m0_weight="40",
        m1_weight="10",
        note="Logins weigh more",
        m2_categories="positive=healthy, neutral=at risk, negative=critical",
    )
    response = client.post(f"/scorecards/{scorecard_id}/edit", data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/scorecards/{scorecard_id}")
    db.session.expire_all()
    version = card().current_version
    assert version.number == 2 and version.note == "Logins weigh more"
    assert [m.weight for m in version.measures] == [40, 10, 25, 25]
    assert version.measures[2].categories == {
        "positive": "healthy",
        "neutral": "at_risk",
        "negative": "critical",
    }
    assert "Saved version 2 of “Health Indicators”." in client.get(
        f"/scorecards/{scorecard_id}"
    ).get_data(as_text=True)


def test_a_measure_is_added_in_a_blank_row_and_removed_with_its_box(client, lead):
    data = editor_form(
        m0_remove="1",
        m1_weight="25",
        m4_key="logins",
        m4_label="Logins",
        m4_signal="logins_30d",
        m4_weight="25",
        m4_healthy="20",
        m4_critical="2",
        m4_direction="higher",
    )
    response = client.post(f"/scorecards/{card().id}/edit", data=data)
    assert response.status_code == 302, text_of(response.get_data(as_text=True))[:800]
    db.session.expire_all()
    assert [m.key for m in card().current_version.measures] == [
        "feature_adoption",
        "support_sentiment",
        "nps",
        "logins",
    ]


def test_weights_off_100_are_refused_next_to_the_total_with_everything_kept(client, lead):
    data = editor_form(m0_weight="20", name="Health Indicators (draft)", note="Try 20")
    response = client.post(f"/scorecards/{card().id}/edit", data=data)
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    assert (
        '<p class="field-error weights-error" id="weights-error" role="alert">'
        "The weights add up to 95; they must add up to 100.</p>"
    ) in html
    assert re.search(r"data-weight-sum>95<", html)
    assert 'name="m-0-weight" value="20"' in html
    assert 'value="Health Indicators (draft)"' in html and 'value="Try 20"' in html
    db.session.expire_all()
    assert card().current_version.number == 1


def test_an_unknown_signal_is_named_next_to_its_row(client, lead):
    data = editor_form(m1_signal="logins_per_fortnight")
    response = client.post(f"/scorecards/{card().id}/edit", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(r'<p class="field-error" id="m-1-signal-error">([^<]+)</p>', html)
    assert error and unescape(error.group(1)) == (
        "Unknown signal 'logins_per_fortnight'; use a signal from the catalog or "
        "metric.<metric key>."
    )
    assert '<option value="logins_per_fortnight" selected>logins_per_fortnight (unknown)' in html


def test_row_errors_land_on_the_right_row_past_blank_rows(client, lead):
    data = editor_form(
        m0_remove="1",
        m1_weight="50",
        m5_key="late",
        m5_label="Late",
        m5_signal="logins_30d",
        m5_weight="0",
    )
    response = client.post(f"/scorecards/{card().id}/edit", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert (
        '<p class="field-error" id="m-5-weight-error">The weight must be a number above 0.</p>'
    ) in html
    assert 'id="m-5-healthy-error"' in html  # a number signal needs both thresholds


def test_band_limits_and_coverage_floor_refusals(client, lead):
    data = editor_form(healthy_min="30", at_risk_min="40", coverage_floor="150")
    response = client.post(f"/scorecards/{card().id}/edit", data=data)
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    assert "Band limits must satisfy 0 ≤ at-risk minimum < healthy minimum ≤ 100." in html
    assert (
        '<p class="field-error" id="coverage_floor-error">Enter a percentage above 0 and '
        "at most 100.</p>" in html
    )


def test_what_if_preview_shows_band_movement_and_saves_nothing(client, lead, clock):
    for n in range(3):
        AccountFactory(external_id=f"W{n}", segment="SMB")
    ingest_events(
        [event(k, f"W{n}", "login", clock - timedelta(days=1)) for n in range(3) for k in range(2)],
        now=clock,
    )
    recompute(now=clock)
    db.session.commit()
    data = editor_form(
        action="preview",
        m0_weight="70",
        m1_weight="10",
        m2_weight="10",
        m3_weight="10",
        note="Logins above all",
    )
    response = client.post(f"/scorecards/{card().id}/edit", data=data)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    preview = text_of(section(html, "what-if"))
    assert "3 of 3 accounts would change band." in preview
    assert "At risk 3 0 −3" in preview and "Healthy 0 3 +3" in preview
    assert "3 At risk → Healthy" in preview
    assert 'id="what-if-chart"' in html and "<desc" in html
    assert 'value="Logins above all"' in html and 'name="m-0-weight" value="70"' in html
    db.session.expire_all()
    assert card().current_version.number == 1
    assert db.session.scalar(select(func.count(AuditEvent.id))) == 0


def test_a_lead_creates_a_scorecard(client, lead):
    data = editor_form(name="Enterprise health", segment="Enterprise", key="")
    data = {k: v for k, v in data.items() if k != "key"}
    response = client.post("/scorecards/new", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    created = card("enterprise-health")
    assert created.segment == "Enterprise" and created.current_version.number == 1
    assert response.headers["Location"].endswith(f"/scorecards/{created.id}")
    assert "Created the scorecard “Enterprise health”." in client.get(
        response.headers["Location"]
    ).get_data(as_text=True)


def test_a_new_scorecard_needs_a_free_key(client, lead):
    data = editor_form(name="Health Indicators", key="health-indicators")
    response = client.post("/scorecards/new", data=data)
    assert response.status_code == 422
    assert "The key &#39;health-indicators&#39; is taken" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["viewer", "csm"])
def test_only_leads_and_admins_edit_scorecards(app, client, login, role):
    login(UserFactory(role=role))
    scorecard_id = card().id
    assert client.get(f"/scorecards/{scorecard_id}/edit").status_code == 403
    assert (
        client.post(
            f"/scorecards/{scorecard_id}/edit", data=editor_form(m0_weight="40", m1_weight="10")
        ).status_code
        == 403
    )
    assert client.get("/scorecards/new").status_code == 403
    assert client.post("/scorecards/new", data=editor_form(name="Mine")).status_code == 403
    html = client.get(f"/scorecards/{scorecard_id}").get_data(as_text=True)
    assert "Edit scorecard" not in html
    assert "New scorecard" not in client.get("/scorecards").get_data(as_text=True)
    db.session.expire_all()
    assert card().current_version.number == 1


def test_unknown_scorecard_is_404(client, lead):
    assert client.get("/scorecards/999999").status_code == 404
    assert client.get("/scorecards/999999/edit").status_code == 404
    assert client.get("/scorecards/999999/backtest").status_code == 404


def test_backtest_compares_current_and_previous_version(client, lead, clock):
    service.save_version(card(), editor_values(m0_weight=40, m1_weight=10), user=lead, now=clock)
    db.session.commit()
    html = client.get(f"/scorecards/{card().id}/backtest").get_data(as_text=True)
    assert 'id="backtest-v2"' in html and 'id="backtest-v1"' in html
    text = text_of(html)
    for phrase in (
        "churn caught",
        "false alarms",
        "expansions healthy",
        "Churned",
        "Expanded",
        "Retained",
        "No account churned or expanded in the last 180 days",
    ):
        assert phrase in text
    single = client.get(f"/scorecards/{card().id}/backtest?a=1&b=none&window=365&lead=60")
    html = single.get_data(as_text=True)
    assert 'id="backtest-v1"' in html and 'id="backtest-v2"' not in html
    assert '<option value="365" selected>' in html and '<option value="60" selected>' in html


def test_backtest_warns_about_signals_without_history(client, lead, clock):
    AccountFactory(external_id="OLD", segment="SMB")
    recompute(now=clock - timedelta(days=40))
    values = editor_values(
        m3_signal="logins_30d",
        m3_categories=None,
        m3_healthy=20,
        m3_critical=2,
        m3_higher_is_better=True,
    )
    service.save_version(card(), values, user=lead, now=clock)
    db.session.commit()
    html = client.get(f"/scorecards/{card().id}/backtest").get_data(as_text=True)
    assert "No history for: Logins (30 days)." in text_of(section(html, "backtest-v2"))


def test_versions_are_kept_when_a_version_is_saved(app, lead, clock):
    """The editor's save goes through the service: older versions stay for history."""
    service.save_version(card(), editor_values(m0_weight=40, m1_weight=10), user=lead, now=clock)
    db.session.flush()
    assert (
        db.session.scalar(
            select(func.count(ScorecardVersion.id)).where(
                ScorecardVersion.scorecard_id == card().id
            )
        )
        == 2
    )
