"""Who may do what: every endpoint needs a logged-in user; changing state needs staff."""

from rest_framework.permissions import SAFE_METHODS, BasePermission


class StaffWritesOnly(BasePermission):
    message = "Changing the system's state needs a staff user."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or user.is_staff
