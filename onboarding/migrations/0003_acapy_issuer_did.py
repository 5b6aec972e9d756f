from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("onboarding", "0002_rate_counter"),
    ]

    operations = [
        migrations.CreateModel(
            name="AcaPyIssuerDid",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("admin_url", models.CharField(max_length=300, unique=True)),
                ("did", models.CharField(max_length=300)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
    ]
