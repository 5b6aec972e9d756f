import json

from django.contrib import admin
from django.db.models import Q

from onboarding.models import Registration


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    """Read-only: registrations change only through the flow and the issuer's answers, and leave
    through ``purge_registrations`` (which also removes the demo issuer's copies)."""

    list_display = ("created_at", "state", "failure", "backend", "attribute_summary", "issued_at")
    list_filter = ("state", "failure", "backend", "created_at")
    search_fields = ("attributes", "connection_id", "process_id", "id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Registration._meta.fields]

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
