from django.conf import settings

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """A strict policy that needs no inline script: htmx and our JS are static files."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/admin/"):
            # Django admin ships inline scripts; it gets a relaxed policy.
            response.setdefault(
                "Content-Security-Policy",
                CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
                    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
                ),
            )
        elif request.path.startswith("/api/docs"):
            # Swagger UI: its scripts are our static files and /api/docs/?script (no inline
            # script, no CDN); the page and the UI it renders use inline styles.
            response.setdefault(
                "Content-Security-Policy", CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
            )
        else:
            response.setdefault("Content-Security-Policy", getattr(settings, "CSP_HEADER", CSP))
        return response
