"""Trigger rules and what they set in motion, one package per feature:

- ``rules``: rule definitions, condition SQL, scheduled and event-driven evaluation, the
  action executor, preview, backtest and the shipped rules;
- ``pools``: CSM pools and their queues, routing and SLAs;
- ``touchpoints``: touchpoint templates (rendered in a sandbox), scheduling and delivery;
- ``alerts``: in-app alerts and the top bar's unread badge.

``refs`` is what the rule executor hands to pools and touchpoints about a new firing;
``account_activity`` gathers what rules, pools and touchpoints did for one account, for the
account page.
"""
