from django.contrib import admin

from onboarding.models import Registration


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    """Read-only: registrations change only through the flow and the issuer's answers."""

    list_display = ("created_at", "state", "failure", "backend", "attribute_summary", "issued_at")
    list_filter = ("state", "failure", "backend", "created_at")
    search_fields = ("attributes", "connection_id", "process_id", "id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Registration._meta.fields]

    @admin.display(description="Details")
    def attribute_summary(self, obj: Registration) -> str:
        return ", ".join(str(value) for value in (obj.attributes or {}).values())

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
