"""A Django project for the integration tests: PostgreSQL, perfkit's app and middleware."""
