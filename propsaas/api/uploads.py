"""A blueprint some of whose operations take uploads (photos, as multipart/form-data): the API-wide "bodies are
JSON" check (api/__init__) lets exactly those operations through; every other before_request function is
registered unchanged."""
from __future__ import annotations

from flask import request
from flask_smorest import Blueprint


class UploadsBlueprint(Blueprint):
    def __init__(self, *args, upload_endpoints=(), **kwargs):
        super().__init__(*args, **kwargs)
        #: the view function names whose requests may be multipart/form-data
        self.upload_endpoints = tuple(upload_endpoints)

    def before_request(self, f):
        from . import _require_json_body

        if f is _require_json_body:
            def _json_body_except_uploads():
                if request.endpoint in {f'{self.name}.{name}' for name in self.upload_endpoints} \
                        and request.mimetype == 'multipart/form-data':
                    return None
                return _require_json_body()

            return super().before_request(_json_body_except_uploads)
        return super().before_request(f)
