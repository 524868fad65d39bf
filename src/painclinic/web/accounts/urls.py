from django.urls import path

from painclinic.web.accounts import views
from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_change_view, name="password_change"),
    path("two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("two-factor/verify/", views.two_factor_verify, name="two_factor_verify"),
    path("ping/", views.ping, name="ping"),
    path("staff/", views.staff_list, name="staff_list"),
    path("staff/new/", views.staff_create, name="staff_create"),
    path("staff/<id:user_id>/role/", views.staff_role, name="staff_role"),
    path("staff/<id:user_id>/password/", views.staff_password_reset, name="staff_password_reset"),
]
