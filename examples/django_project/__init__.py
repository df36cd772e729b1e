"""A minimal Django project wrapped by perfkit (see wsgi.py, asgi.py and monitoring.py)."""
