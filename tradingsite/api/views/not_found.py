from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView


@extend_schema(exclude=True)
class NotFoundView(APIView):
    """Unknown paths under /api/: 401 before login (which paths exist is not public), then 404."""

    permission_classes = [IsAuthenticated]

    def _not_found(self, request, *args, **kwargs):
        raise NotFound(f"No API endpoint at {request.path}.")

    get = post = put = patch = delete = head = options = _not_found
