"""The demo accounts and their contacts in the database, created through the accounts service
as a CSM would have entered them: signed on the contract start, moved through each lifecycle
stage on the day it was entered, contacts added, and the contacts who left marked departed
once the plans that still name them are built.
"""

from __future__ import annotations

import re
from datetime import timedelta

from cs_app.accounts import service as accounts_service
from cs_app.accounts.models import Account
from cs_app.demo.context import DemoContext
from cs_app.demo.specs import AccountSpec


def create_account(ctx: DemoContext, spec: AccountSpec) -> Account:
    """The account as it was signed, then moved through its lifecycle stages on their dates,
    with its contacts (all still active: departures come after the plans are built)."""
    csm = ctx.users[spec.csm_email] if spec.csm_email else None
    first_stage, signed_on = spec.stages[0]
    account, _ = accounts_service.upsert_account(
        {
            "external_id": spec.external_id,
            "name": spec.name,
            "domain": spec.domain,
            "industry": spec.industry,
            "employees": spec.employees,
            "segment": spec.segment,
            "engagement_model": spec.engagement_model,
            "arr_minor": spec.arr_dollars * 100,
            "currency": "USD",
            "contract_start": spec.contract_start,
            "renewal_date": spec.renewal_date,
            "csm_id": csm.id if csm else None,
            "lifecycle_stage": first_stage,
            "stage_entered_on": signed_on,
            "product_plan": spec.product_plan,
            "seats_purchased": spec.seats,
            **spec.context,
        },
        user=csm,
        now=ctx.at(signed_on),
    )
    for stage, entered_on in spec.stages[1:]:
        accounts_service.set_lifecycle_stage(
            account, stage, user=csm, now=ctx.at(entered_on), entered_on=entered_on
        )
    for person in spec.contacts:
        local = re.sub(r"[^a-z.]", "", person.name.lower().replace(" ", "."))
        last = (
            ctx.today - timedelta(days=person.last_contact_days_ago)
            if person.last_contact_days_ago is not None
            else None
        )
        accounts_service.add_contact(
            account,
            {
                "name": person.name,
                "title": person.title,
                "email": f"{local}@{spec.domain}",
                "role": person.role,
                "influence": person.influence,
                "engagement": person.engagement,
                "last_contact_on": last,
                "status": "active",
            },
            user=csm,
            now=ctx.now,
        )
    ctx.count("accounts")
    ctx.count("contacts", len(spec.contacts))
    return account


def record_departures(ctx: DemoContext, account: Account, spec: AccountSpec) -> None:
    """Mark the contacts who have left: called after the plans are built, because those plans
    were made while they were still at the customer and name them as owners."""
    for contact in account.contacts:
        if contact.name in spec.departed_names:
            accounts_service.update_contact(contact, {"status": "departed"}, user=None, now=ctx.now)
