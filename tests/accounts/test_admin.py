"""The user admin cannot change what the approval rules audit elsewhere."""

import pytest

from apps.replies.models import SettingChange
from tests.factories import UserFactory


@pytest.mark.django_db
def test_the_user_admin_cannot_mark_an_author_in_training_without_the_audit(admin_client):
    author = UserFactory(username="trainee", in_training=False)
    page = admin_client.get(f"/admin/accounts/user/{author.pk}/change/").content.decode()
    assert 'name="in_training"' not in page and "Authors in training" in page
    form = {
        "username": "trainee", "first_name": "", "last_name": "", "email": "", "is_active": "on",
        "language": "", "timezone": "Europe/Rome", "in_training": "on",
        "date_joined_0": "2026-01-01", "date_joined_1": "09:00:00",
    }
    response = admin_client.post(f"/admin/accounts/user/{author.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    author.refresh_from_db()
    assert author.in_training is False
    assert not SettingChange.objects.exists()
