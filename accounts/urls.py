from django.urls import path

from accounts import password_views, promotion_views, views, views_otp

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("language/", views.set_language, name="set_language"),
    path("password/change/", password_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", password_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", password_views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/done/", password_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        password_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        password_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("2fa/setup/", views_otp.setup, name="otp_setup"),
    path("2fa/recovery-codes/", views_otp.recovery_codes, name="otp_recovery_codes"),
    path("2fa/verify/", views_otp.verify, name="otp_verify"),
    path("promotion/", promotion_views.promotion, name="promotion"),
    path("notifications/", promotion_views.notifications, name="notifications"),
]
