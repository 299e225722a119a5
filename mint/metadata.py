"""What the API answers to OPTIONS (its own module: DRF imports it while defining APIView)."""

from rest_framework.metadata import SimpleMetadata


class ApiMetadata(SimpleMetadata):
    """OPTIONS answers: the view's name, description and media types, without DRF's `actions`.

    DRF describes `serializer_class` as the body of PUT and POST, which for our views is the
    output shape (inputs have serializers of their own; the OpenAPI schema has them right), and
    on an action without an object (PUT budgets/preferences) its `get_object()` call was a 500.
    """

    def determine_actions(self, request, view) -> dict:
        return {}
