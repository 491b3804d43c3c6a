import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("replies", "0001_initial"),
        ("sla", "0003_sweep_schedule"),
    ]

    operations = [
        migrations.CreateModel(
            name="ApprovalAlert",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("submitted_at", models.DateTimeField(help_text="The submission the alert is about.")),
                ("kind", models.CharField(choices=[("warning", "Warning"), ("breach", "Breach")], max_length=10)),
                ("at", models.DateTimeField(help_text="The instant crossed.")),
                ("data", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("handled_at", models.DateTimeField(blank=True, null=True)),
                (
                    "reply",
                    models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+",
                        to="replies.reply",
                    ),
                ),
            ],
            options={
                "ordering": ["at", "pk"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("handled_at__isnull", True)), fields=["created_at"],
                        name="sla_approval_unhandled",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("reply", "submitted_at", "kind"), name="sla_approval_alert_once"
                    )
                ],
            },
        ),
    ]
