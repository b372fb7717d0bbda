from django.conf import settings
from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    """Connection → Consent: the model records a user's consent to a client (a rename, rows kept)."""

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('oauthapp', '0002_policy_tables'),
    ]

    operations = [
        migrations.RemoveConstraint(model_name='connection', name='one_connection_per_user_client'),
        migrations.RenameModel(old_name='Connection', new_name='Consent'),
        migrations.AlterField(
            model_name='consent',
            name='application',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='consents', to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL),
        ),
        migrations.AlterField(
            model_name='consent',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='oauth_consents', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddConstraint(
            model_name='consent',
            constraint=models.UniqueConstraint(fields=('user', 'application'), name='one_consent_per_user_client'),
        ),
    ]
