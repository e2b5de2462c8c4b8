"""Domain errors: raised by services with a message a person understands, shown by views as 4xx."""


class DomainError(Exception):
    """A rule of the domain refused the action. ``message`` is shown to the user as it is: a lazy string
    (flask_babel.lazy_gettext) becomes the user's language when it is rendered."""

    status_code = 422

    def __init__(self, message, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(DomainError):
    status_code = 403
