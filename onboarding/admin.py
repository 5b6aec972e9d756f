import json

from django.contrib import admin
from django.db.models import Q

from onboarding import checkin
from onboarding.models import CheckIn, Registration


@admin.action(description="Withdraw: the door refuses their credential", permissions=["withdraw"])
def withdraw_registrations(modeladmin, request, queryset):
    count = sum(checkin.registration_withdraw(registration=registration) for registration in queryset)
    modeladmin.message_user(request, f"{count} registration(s) withdrawn.")


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    """Read-only: registrations change only through the flow and the issuer's answers, and leave
    through ``purge_registrations`` (which also removes the demo issuer's copies)."""

    list_display = ("created_at", "state", "failure", "backend", "attribute_summary", "issued_at", "withdrawn_at")
    list_filter = ("state", "failure", "backend", "created_at")
    search_fields = ("attributes", "connection_id", "process_id", "id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Registration._meta.fields]
    actions = [withdraw_registrations]

    def has_withdraw_permission(self, request) -> bool:
        return request.user.has_perm("onboarding.withdraw_registration")

    @admin.display(description="Details")
    def attribute_summary(self, obj: Registration) -> str:
        return ", ".join(str(value) for value in (obj.attributes or {}).values())

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # SQLite stores the details as JSON text with non-ASCII letters escaped ("M\u00fcller"), so
        # a search for "Müller" also looks for the escaped spelling of each word.
        escaped = [json.dumps(word)[1:-1] for word in search_term.split() if not word.isascii()]
        if escaped:
            matches = Q()
            for word in escaped:
                matches |= Q(attributes__icontains=word)
            queryset = queryset | self.model.objects.filter(matches)
        return queryset, may_have_duplicates

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False



@admin.register(CheckIn)
class CheckInAdmin(admin.ModelAdmin):
    """Read-only: check-ins are made at the door and leave with their registration."""

    list_display = ("created_at", "outcome", "reason", "method", "door", "staff_name", "registration")
    list_filter = ("outcome", "reason", "method", "door")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in CheckIn._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
