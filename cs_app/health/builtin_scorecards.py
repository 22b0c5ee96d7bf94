"""The scorecards that ship with cs_app, from the seed guide. The migration that installs them
(``install built-in scorecards``) holds its own copy, so a change here reaches existing
databases only through a new data migration.

"Health Indicators" (the scaled template) applies to every account without a segment-specific
scorecard; the weighted GrowthStack example applies to Mid-Market.
"""

HEALTH_INDICATORS = {
    "key": "health-indicators",
    "name": "Health Indicators",
    "segment": None,
    "note": "The scaled template's Health Indicators table.",
    "measures": [
        {
            "key": "login_frequency",
            "label": "Login frequency",
            "signal": "days_since_last_login",
            "weight": 25,
            "higher_is_better": False,
            "healthy": 7,
            "critical": 30,
            "freshness_days": None,
        },
        {
            "key": "feature_adoption",
            "label": "Feature adoption",
            "signal": "features_used_30d",
            "weight": 25,
            "higher_is_better": True,
            "healthy": 3,
            "critical": 0,
            "freshness_days": None,
        },
        {
            "key": "support_sentiment",
            "label": "Support sentiment",
            "signal": "support_sentiment",
            "weight": 25,
            "categories": {"positive": "healthy", "neutral": "at_risk", "negative": "critical"},
            "freshness_days": 90,
        },
        {
            "key": "nps",
            "label": "NPS response",
            "signal": "nps_category",
            "weight": 25,
            "categories": {"promoter": "healthy", "passive": "at_risk", "detractor": "critical"},
            "freshness_days": 180,
        },
    ],
}

MID_MARKET_WEIGHTED = {
    "key": "mid-market-weighted",
    "name": "Mid-market weighted health",
    "segment": "Mid-Market",
    "note": "The GrowthStack Marketing example: 30/25/20/15/10.",
    "measures": [
        {
            "key": "login_frequency",
            "label": "Login frequency by service team leads",
            "signal": "logins_30d",
            "weight": 30,
            "higher_is_better": True,
            "healthy": 20,
            "critical": 2,
            "freshness_days": None,
        },
        {
            "key": "pipeline_freshness",
            "label": "Pipeline data freshness (days since update)",
            "signal": "metric.pipeline_freshness_days",
            "weight": 25,
            "higher_is_better": False,
            "healthy": 2,
            "critical": 14,
            "freshness_days": 7,
        },
        {
            "key": "support_sentiment",
            "label": "Support ticket sentiment",
            "signal": "support_sentiment",
            "weight": 20,
            "categories": {"positive": "healthy", "neutral": "at_risk", "negative": "critical"},
            "freshness_days": 90,
        },
        {
            "key": "feature_breadth",
            "label": "Feature breadth",
            "signal": "features_used_30d",
            "weight": 15,
            "higher_is_better": True,
            "healthy": 5,
            "critical": 1,
            "freshness_days": None,
        },
        {
            "key": "sponsor_engagement",
            "label": "Executive sponsor engagement",
            "signal": "days_since_sponsor_contact",
            "weight": 10,
            "higher_is_better": False,
            "healthy": 30,
            "critical": 90,
            "freshness_days": None,
        },
    ],
}

BUILTIN_SCORECARDS = (HEALTH_INDICATORS, MID_MARKET_WEIGHTED)
