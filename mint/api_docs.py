"""The API's browsable docs page (the schema itself is drf-spectacular's view)."""

from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI under the site's strict Content-Security-Policy.

    The split view loads its start-up script from this URL (`?script`) instead of inlining it, and
    our template links its few styles from a file instead of a <style> block: nothing inline,
    everything from this site (Swagger UI itself comes from drf-spectacular-sidecar's static files).
    """

    template_name = "api/swagger_ui.html"
    url_name = "api_schema"
    title = "Mint API"
