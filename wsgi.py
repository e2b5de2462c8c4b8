"""WSGI entry point: ``gunicorn wsgi:app`` / ``flask --app wsgi ...``."""
from propsaas import create_app

app = create_app()
