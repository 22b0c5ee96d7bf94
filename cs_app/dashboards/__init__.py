"""The portfolio dashboard for CS leads: widgets as set-based SQL, charts and CSV exports."""
