from apps.accounts import roles


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from apps.notifications.selectors import notification_unread_count

    return {
        "user_roles": roles.user_roles(user),
        "is_admin": roles.is_admin(user),
        "unread_notifications": notification_unread_count(user),
    }
