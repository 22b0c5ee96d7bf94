"""The touchpoint template service: saved only when it renders in the sandbox (escapes,
syntax errors and unknown fields refused with their line), versioned against lost updates,
audited, and previewed against a real account."""

from __future__ import annotations

import pytest

from cs_app.audit.service import events_for
from cs_app.errors import ConflictError, ValidationError
from cs_app.triggers.touchpoints import templates as service
from tests.factories import (
    AccountFactory,
    ContactFactory,
    RuleFactory,
    TouchpointFactory,
    TouchpointTemplateFactory,
    UserFactory,
)

GOOD = {
    "key": "renewal-nudge",
    "name": "Renewal nudge",
    "channel": "email",
    "subject": "{{ account.name }} renews on {{ account.renewal_date }}",
    "body": "Hi {{ contact.first_name }},\n\nLet's plan the renewal.\n\n{{ csm.name }}",
}


@pytest.fixture
def lead(app):
    return UserFactory(role="lead")


def refused(data, template=None, **kwargs) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        if template is None:
            service.create_template(data, user=None, now=kwargs["now"])
        else:
            service.update_template(template, data, user=None, now=kwargs["now"], version=None)
    return caught.value.fields


def test_a_template_is_created_and_audited(app, lead, now):
    template = service.create_template(GOOD, user=lead, now=now)
    assert (template.key, template.channel, template.version) == ("renewal-nudge", "email", 1)
    assert template.updated_by_id == lead.id
    [event] = events_for("touchpoint_template", template.id)
    assert (event.action, event.after["subject"]) == ("created", GOOD["subject"])


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "{{ ''.__class__.__mro__ }}",
            "Body, line 1: '__class__' cannot be used: "
            "names starting with _ are blocked in templates",
        ),
        (
            "Hi\n{{ account.__init__.__globals__ }}",
            "Body, line 2: '__init__' cannot be used: "
            "names starting with _ are blocked in templates",
        ),
        (
            "{% set n = '__glo' ~ 'bals__' %}{{ account[n] }}",
            "Body, line 1: templates cannot use '__globals__': names starting with _ are blocked",
        ),
        ("{{ range(10**9)|list }}", "Body, line 1: range() is limited to 1,000 items in templates"),
        (
            "{{ 'a' * 10**9 }}",
            "Body, line 1: repeating that would make more than 100,000 characters",
        ),
        (
            "{{ '{0.__class__}'.format(account) }}",
            "Body, line 1: templates cannot use 'format': it is not a field of the data",
        ),
    ],
)
def test_sandbox_escapes_are_refused(app, now, body, message):
    assert refused({**GOOD, "body": body}, now=now) == {"body": message}


def test_syntax_errors_and_unknown_fields_are_refused_with_their_line(app, now):
    fields = refused(
        {**GOOD, "subject": "{{ account.nmae }}", "body": "Hi\n{% if contact.name %}\nno end"},
        now=now,
    )
    assert fields["subject"].startswith("Subject, line 1: there is no field 'nmae' here")
    assert fields["body"].startswith("Body, line 2: Unexpected end of template.")


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"key": ""}, "key", "Give the template a key, e.g. renewal-reminder."),
        ({"key": "Has Spaces"}, "key", "Use lowercase letters, digits, hyphens and underscores"),
        ({"key": "welcome-email"}, "key", "Another template already has the key 'welcome-email'."),
        ({"name": " "}, "name", "Give the template a name."),
        ({"channel": "fax"}, "channel", "Choose a channel: Email, In-app, Internal alert, Call"),
        ({"subject": ""}, "subject", "Write the subject."),
        (
            {"subject": "Hi\r\nBcc: x@example.com"},
            "subject",
            "Write the subject on one line, without line breaks or control characters.",
        ),
    ],
)
def test_bad_fields_are_refused(app, now, change, field, message):
    fields = refused({**GOOD, **change}, now=now)
    assert fields[field].startswith(message)


def test_an_update_with_a_stale_version_is_refused_and_changes_nothing(app, lead, now):
    template = service.create_template(GOOD, user=lead, now=now)
    service.update_template(template, {**GOOD, "name": "First edit"}, user=lead, now=now, version=1)
    assert template.version == 2
    with pytest.raises(ConflictError, match="Someone saved this template since you opened"):
        service.update_template(
            template, {**GOOD, "name": "Second edit"}, user=lead, now=now, version=1
        )
    assert template.name == "First edit"
    actions = [e.action for e in events_for("touchpoint_template", template.id)]
    assert actions == ["updated", "created"]


def test_the_key_cannot_change_and_saving_the_same_text_changes_nothing(app, lead, now):
    template = service.create_template(GOOD, user=lead, now=now)
    service.update_template(template, {**GOOD, "key": "other"}, user=lead, now=now, version=1)
    assert (template.key, template.version) == ("renewal-nudge", 1)


def test_the_channel_cannot_change_while_a_rule_sends_the_template(app, lead, now):
    template = service.create_template(GOOD, user=lead, now=now)
    RuleFactory(
        name="Renewal in 60 days",
        actions=[
            {
                "type": "schedule_touchpoint",
                "channel": "email",
                "template": "renewal-nudge",
                "recipient": "primary_contact",
                "delay_days": 0,
            }
        ],
    )
    fields = refused({**GOOD, "channel": "in_app"}, template, now=now)
    assert fields == {
        "channel": "Rules send this template as Email: Renewal in 60 days. "
        "Change those rules first."
    }


def test_preview_renders_for_an_account_and_its_primary_contact(app, now):
    csm = UserFactory(name="Casey Miller")
    account = AccountFactory(name="Globex", csm=csm)
    ContactFactory(account=account, name="Hank Scorpio", role="champion")
    message = service.preview(GOOD["subject"], GOOD["body"], account, now=now)
    assert message.subject == "Globex renews on 2027-01-15"
    assert message.body == "Hi Hank,\n\nLet's plan the renewal.\n\nCasey Miller"


def test_preview_refuses_like_saving(app, now):
    account = AccountFactory()
    with pytest.raises(ValidationError) as caught:
        service.preview("{{ account.x }}", "{{ ''.__class__ }}", account, now=now)
    assert set(caught.value.fields) == {"subject", "body"}


def test_the_list_counts_each_templates_touchpoints(app, now):
    template = TouchpointTemplateFactory()
    for status in ("sent", "sent", "scheduled", "dead", "failed"):
        TouchpointFactory(template=template, status=status)
    summaries = service.list_templates()
    mine = next(s for s in summaries if s.template.id == template.id)
    assert (mine.sent, mine.scheduled, mine.attention) == (2, 1, 2)
