"""A minimal Django project monitored by perfkit (see settings.py: one app, one middleware)."""
