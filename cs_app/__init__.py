"""cs_app: customer-success planning and journey tracking.

Importing the package stays light (no Flask, no SQLAlchemy) so the pure domain modules
(``plans.progress`` and friends) can be used and tested without the web stack.
"""


def create_app(config=None):
    """Build the Flask app; see ``cs_app.app.build_app``."""
    from cs_app.app import build_app

    return build_app(config)
