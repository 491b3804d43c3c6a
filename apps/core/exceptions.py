class ApplicationError(Exception):
    """A refusal a user should read: the message is shown as is, the status is 4xx."""

    status_code = 400

    def __init__(self, message: str, *, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class PermissionRefused(ApplicationError):
    status_code = 403


class StaleObject(ApplicationError):
    """Somebody else changed the object between the page load and this action."""

    status_code = 409
